"""Neutral requests to Voyage bodies: realtime bodies, batch lines and batch-wide parameters.

A Voyage batch line holds only the data (`input`, `inputs`, or `query` and `documents`); the
model and every other parameter go once into the create call's `request_params` and apply to
all lines (provider-wire-formats.md §4.3, §4.5). So what varies per request in Batchery must be
the same across a batch, or be handled without Voyage: `BatchParams` gathers it while the lines
are written and says which case applies.
"""

from __future__ import annotations

from typing import Any

from batchery.model import LlmRequest, RequestKind
from batchery_openai_batch import TAG_KEY

from ._options import VoyageOptions
from ._wire import (
    ContextualBody,
    ContextualLine,
    EmbeddingBody,
    EmbeddingLine,
    InputLine,
    RerankBody,
    RerankLine,
)

__all__ = [
    "DEFAULT_MODELS",
    "ENDPOINTS",
    "INPUT_TYPES",
    "PROVIDER",
    "TAG_KEY",
    "TOP_K_KEY",
    "BatchParams",
    "MixedBatchError",
    "input_line",
    "kind_of_endpoint",
    "request_body",
]

PROVIDER = "voyage"
TOP_K_KEY = "batchery_top_k"
INPUT_TYPES = frozenset({"query", "document"})

ENDPOINTS: dict[RequestKind, str] = {
    RequestKind.EMBEDDING: "/v1/embeddings",
    RequestKind.CONTEXTUAL_EMBEDDING: "/v1/contextualizedembeddings",
    RequestKind.RERANK: "/v1/rerank",
}
DEFAULT_MODELS: dict[RequestKind, str] = {
    RequestKind.EMBEDDING: "voyage-4",
    RequestKind.CONTEXTUAL_EMBEDDING: "voyage-context-3",
    RequestKind.RERANK: "rerank-2.5",
}


def _model(request: LlmRequest) -> str:
    return request.model or DEFAULT_MODELS[request.kind]


def request_body(
    request: LlmRequest, options: VoyageOptions
) -> EmbeddingBody | ContextualBody | RerankBody:
    """The realtime body for a request; raises ValueError for a kind Voyage cannot serve."""
    encoding = "base64" if options.base64 else None
    if request.kind is RequestKind.EMBEDDING:
        return EmbeddingBody(
            model=_model(request),
            input=(request.input or "",),
            input_type=request.input_type,
            truncation=options.truncation,
            encoding_format=encoding,
        )
    if request.kind is RequestKind.CONTEXTUAL_EMBEDDING:
        return ContextualBody(
            model=_model(request),
            inputs=(request.chunks or (),),
            input_type=request.input_type,
            encoding_format=encoding,
        )
    if request.kind is RequestKind.RERANK:
        return RerankBody(
            model=_model(request),
            query=request.query or "",
            documents=request.documents or (),
            top_k=request.top_k,
            truncation=options.truncation,
        )
    raise ValueError(f"Voyage does not serve {request.kind.value} requests")


def input_line(request: LlmRequest) -> InputLine:
    """The batch input line for a request: its custom_id and its data, nothing else."""
    body: EmbeddingLine | ContextualLine | RerankLine
    if request.kind is RequestKind.EMBEDDING:
        body = EmbeddingLine((request.input or "",))
    elif request.kind is RequestKind.CONTEXTUAL_EMBEDDING:
        body = ContextualLine((request.chunks or (),))
    elif request.kind is RequestKind.RERANK:
        body = RerankLine(request.query or "", request.documents or ())
    else:
        raise ValueError(f"Voyage does not serve {request.kind.value} requests")
    return InputLine(request.custom_id, body)


def kind_of_endpoint(endpoint: str | None) -> RequestKind | None:
    """The request kind a batch serves, from its `endpoint`; None for one Batchery never sends."""
    tail = (endpoint or "").rstrip("/").rsplit("/", 1)[-1]
    return {
        "embeddings": RequestKind.EMBEDDING,
        "contextualizedembeddings": RequestKind.CONTEXTUAL_EMBEDDING,
        "rerank": RequestKind.RERANK,
    }.get(tail)


class MixedBatchError(ValueError):
    """The batch's requests differ in a parameter Voyage applies to a whole batch."""


class BatchParams:
    """What every line of one batch shares, gathered while the lines are written.

    `input_type` changes the vectors themselves, so a batch that mixes them is refused rather
    than embedded wrongly. `top_k` only trims an answer: lines are sent without it, so every
    line comes back with all of its documents' scores (Voyage bills rerank by tokens, not by
    `top_k`), and when the batch shares one `top_k` it is kept in the batch's metadata so the
    results can be trimmed exactly as a realtime answer is.
    """

    def __init__(self) -> None:
        self.kind: RequestKind | None = None
        self.model: str | None = None
        self.count = 0
        self._input_types: set[str | None] = set()
        self._top_ks: set[int | None] = set()

    def add(self, request: LlmRequest) -> None:
        if request.kind not in ENDPOINTS:
            raise ValueError(f"Voyage does not serve {request.kind.value} requests")
        model = _model(request)
        if self.kind is None:
            self.kind, self.model = request.kind, model
        elif request.kind is not self.kind or model != self.model:
            raise ValueError("a batch must hold requests of a single kind and model")
        self._input_types.add(request.input_type)
        self._top_ks.add(request.top_k)
        self.count += 1

    @property
    def endpoint(self) -> str:
        if self.kind is None:
            raise ValueError("a batch needs at least one request")
        return ENDPOINTS[self.kind]

    def request_params(self, options: VoyageOptions) -> dict[str, Any]:
        """The create call's `request_params`; raises `MixedBatchError` for mixed input types."""
        if self.kind is None or self.model is None:
            raise ValueError("a batch needs at least one request")
        params: dict[str, Any] = {"model": self.model}
        if self.kind is not RequestKind.RERANK:
            if len(self._input_types) > 1:
                shown = ", ".join(sorted(str(t) for t in self._input_types))
                raise MixedBatchError(
                    f"a Voyage batch applies one input_type to every line, but these requests "
                    f"mix {shown}; run each input_type as its own job"
                )
            (input_type,) = self._input_types
            if input_type is not None:
                params["input_type"] = input_type
            if options.batch_base64:
                params["encoding_format"] = "base64"
        if self.kind is not RequestKind.CONTEXTUAL_EMBEDDING:
            params["truncation"] = options.truncation
        return params

    def shared_top_k(self) -> int | None:
        """The one `top_k` every rerank line shares, or None when there is none or several."""
        if len(self._top_ks) != 1:
            return None
        (top_k,) = self._top_ks
        return top_k
