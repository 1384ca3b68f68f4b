"""One realtime call per request, and the request rules Voyage's endpoints enforce.

The rules are checked before anything is sent, in batch and realtime alike, so a request Voyage
would refuse ends as an explicit error without costing a call. The limits are Voyage's
documented ones: at most 1,000 documents to rerank and 16K chunks per contextualized call.
"""

from __future__ import annotations

from functools import partial

import msgspec
from batchery.model import LlmRequest, LlmResult, Mode, RequestKind
from batchery.provider_kit import call_once

from ._http import VoyageHttp
from ._options import VoyageOptions
from ._results import contextual_result, embedding_result, rerank_result
from ._translate import ENDPOINTS, INPUT_TYPES, PROVIDER, request_body
from ._wire import ContextualView, EmbeddingView, RerankView

__all__ = ["MAX_CHUNKS", "MAX_DOCUMENTS", "call_realtime", "content_problem"]

MAX_DOCUMENTS = 1_000
MAX_CHUNKS = 16_000

_ENCODER = msgspec.json.Encoder()
_PATHS = {kind: path.removeprefix("/v1") for kind, path in ENDPOINTS.items()}


def content_problem(request: LlmRequest) -> str | None:
    """The Voyage rule `request` breaks, said for a person; None when it may be sent."""
    if request.kind not in ENDPOINTS:
        served = ", ".join(kind.value for kind in ENDPOINTS)
        return f"Voyage does not serve {request.kind.value} requests (it serves {served})"
    if request.kind is not RequestKind.RERANK and request.input_type not in (None, *INPUT_TYPES):
        return f"input_type must be 'query', 'document' or unset, not {request.input_type!r}"
    if request.kind is RequestKind.EMBEDDING and not request.input:
        return "an embedding request needs a non-empty input"
    if request.kind is RequestKind.CONTEXTUAL_EMBEDDING:
        if not request.chunks:
            return "a contextual embedding request needs at least one chunk"
        if len(request.chunks) > MAX_CHUNKS:
            return f"a contextual embedding request holds at most {MAX_CHUNKS} chunks"
        if not all(request.chunks):
            return "every chunk of a contextual embedding request must be non-empty"
    if request.kind is RequestKind.RERANK:
        if not request.query or not request.documents:
            return "a rerank request needs a query and at least one document"
        if len(request.documents) > MAX_DOCUMENTS:
            return f"a rerank request holds at most {MAX_DOCUMENTS} documents"
        if request.top_k is not None and request.top_k < 1:
            return "top_k must be at least 1"
    return None


def _read(request: LlmRequest, body: bytes) -> LlmResult | None:
    mode = Mode.REALTIME
    custom_id = request.custom_id
    if request.kind is RequestKind.EMBEDDING:
        view = msgspec.json.decode(body, type=EmbeddingView)
        return embedding_result(custom_id, view, mode)
    if request.kind is RequestKind.CONTEXTUAL_EMBEDDING:
        contextual = msgspec.json.decode(body, type=ContextualView)
        return contextual_result(custom_id, contextual, mode, chunks=len(request.chunks or ()))
    ranking = msgspec.json.decode(body, type=RerankView)
    documents = len(request.documents or ())
    return rerank_result(custom_id, ranking, mode, documents=documents, top_k=request.top_k)


async def call_realtime(http: VoyageHttp, options: VoyageOptions, request: LlmRequest) -> LlmResult:
    """Send `request` once; every failure comes back as a classified, failed result."""
    body = _ENCODER.encode(request_body(request, options))
    read = partial(_read, request)
    return await call_once(http, _PATHS[request.kind], body, request, provider=PROVIDER, read=read)
