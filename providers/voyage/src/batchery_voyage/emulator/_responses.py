"""Answers of the three endpoints for a request body, identical in batch and realtime.

Vectors are the kit's deterministic unit vectors, seeded by the model, the `input_type` and the
text (a contextual chunk also by its whole document and its position, as context changes its
vector), so the same input gets the same vector on either path. Rerank scores are a pure
function of the model, the query and the document: word overlap plus a seeded spread, in
(0, 1). Token counts are the kit's estimate; a rerank counts query tokens once per document
plus every document's tokens, as Voyage defines it.
"""

from __future__ import annotations

import base64
import random
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from batchery.emulator import embedding_vector, estimate_tokens, request_seed

from batchery_voyage.emulator._http import ApiError

__all__ = [
    "DATA_KEYS",
    "ENDPOINTS",
    "check_params",
    "contextualized",
    "embeddings",
    "inputs_of_line",
    "rerank",
    "rerank_score",
    "respond",
]

EMBEDDING_MODELS: Mapping[str, int] = {
    "voyage-4-large": 1024,
    "voyage-4": 1024,
    "voyage-4-lite": 1024,
    "voyage-3-large": 1024,
    "voyage-3.5": 1024,
    "voyage-3.5-lite": 1024,
    "voyage-3": 1024,
    "voyage-3-lite": 512,
    "voyage-code-3": 1024,
    "voyage-code-2": 1536,
    "voyage-finance-2": 1024,
    "voyage-law-2": 1024,
    "voyage-multilingual-2": 1024,
    "voyage-large-2": 1536,
    "voyage-2": 1024,
}
CONTEXTUAL_MODELS: Mapping[str, int] = {"voyage-context-3": 1024}
RERANK_MODELS = frozenset(
    {"rerank-2.5", "rerank-2.5-lite", "rerank-2", "rerank-2-lite", "rerank-1", "rerank-lite-1"}
)
FLEXIBLE = frozenset(
    {
        "voyage-4-large",
        "voyage-4",
        "voyage-4-lite",
        "voyage-3-large",
        "voyage-3.5",
        "voyage-3.5-lite",
        "voyage-code-3",
        "voyage-context-3",
    }
)
OUTPUT_DIMENSIONS = (256, 512, 1024, 2048)
DTYPES = ("float", "int8", "uint8", "binary", "ubinary")
MAX_INPUTS = 1_000
MAX_CHUNKS = 16_000
MAX_DOCUMENTS = 1_000

_EMBED_KEYS = frozenset(
    {"model", "input", "input_type", "truncation", "output_dimension", "output_dtype"}
    | {"encoding_format"}
)
_CONTEXT_KEYS = frozenset(
    {"model", "inputs", "input_type", "output_dimension", "output_dtype", "encoding_format"}
    | {"enable_auto_chunking", "chunk_size", "chunk_overlap"}
)
_RERANK_KEYS = frozenset({"model", "query", "documents", "top_k", "truncation", "return_documents"})
DATA_KEYS: Mapping[str, frozenset[str]] = {
    "/v1/embeddings": frozenset({"input"}),
    "/v1/contextualizedembeddings": frozenset({"inputs"}),
    "/v1/rerank": frozenset({"query", "documents"}),
}
ENDPOINTS = tuple(DATA_KEYS)
_SAMPLES: Mapping[str, dict[str, Any]] = {
    "/v1/embeddings": {"input": ["sample"]},
    "/v1/contextualizedembeddings": {"inputs": [["sample"]]},
    "/v1/rerank": {"query": "sample", "documents": ["sample"]},
}


def _check_keys(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(400, f"Unexpected parameter(s): {', '.join(extra)}.")


def _model(body: Mapping[str, Any], known: Sequence[str] | frozenset[str], what: str) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "The 'model' parameter is required.")
    if model not in known:
        supported = ", ".join(sorted(known))
        raise ApiError(400, f"Model {model} is not supported for {what}. Supported: {supported}.")
    return model


def _input_type(body: Mapping[str, Any]) -> str | None:
    value = body.get("input_type")
    if value not in (None, "query", "document"):
        raise ApiError(400, "input_type must be 'query', 'document' or null.")
    return value


def _flag(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise ApiError(400, f"{key} must be a boolean.")
    return value


def _dimension(body: Mapping[str, Any], model: str, default: int) -> int:
    value = body.get("output_dimension")
    if value is None:
        return default
    if model not in FLEXIBLE:
        raise ApiError(400, f"Model {model} does not support output_dimension.")
    if value not in OUTPUT_DIMENSIONS or isinstance(value, bool):
        raise ApiError(400, f"output_dimension must be one of {OUTPUT_DIMENSIONS}.")
    return int(value)


def _format(body: Mapping[str, Any]) -> tuple[str, bool]:
    dtype = body.get("output_dtype") or "float"
    if dtype not in DTYPES:
        raise ApiError(400, f"output_dtype must be one of {', '.join(DTYPES)}.")
    encoding = body.get("encoding_format")
    if encoding not in (None, "base64"):
        raise ApiError(400, "encoding_format must be 'base64' or null.")
    return str(dtype), encoding == "base64"


def _quantized(vector: list[float], dtype: str) -> tuple[list[int], str]:
    """Integer forms of a vector and their `struct` code: int8/uint8 scaled, binary packed."""
    if dtype in ("int8", "uint8"):
        peak = max(abs(x) for x in vector) or 1.0
        values = [max(-128, min(127, round(x / peak * 127))) for x in vector]
        return ([v + 128 for v in values], "B") if dtype == "uint8" else (values, "b")
    packed = []
    for start in range(0, len(vector), 8):
        byte = 0
        for x in vector[start : start + 8]:
            byte = (byte << 1) | (x > 0)
        packed.append(byte)
    return ([b - 128 for b in packed], "b") if dtype == "binary" else (packed, "B")


def _encode(vector: list[float], dtype: str, as_base64: bool) -> Any:
    if dtype == "float":
        values: list[Any] = list(vector)
        code = "f"
    else:
        ints, code = _quantized(vector, dtype)
        values = list(ints)
    if not as_base64:
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}{code}", *values)).decode()


def _texts(raw: Any, what: str, limit: int) -> list[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise ApiError(400, f"{what} must be a string or a non-empty list of strings.")
    if len(items) > limit:
        raise ApiError(400, f"{what} holds {len(items)} items; the limit is {limit}.")
    if not all(isinstance(item, str) and item for item in items):
        raise ApiError(400, f"{what} must hold non-empty strings only.")
    return items


def embeddings(body: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(body, _EMBED_KEYS)
    model = _model(body, tuple(EMBEDDING_MODELS), "embeddings")
    texts = _texts(body.get("input"), "input", MAX_INPUTS)
    input_type = _input_type(body)
    _flag(body, "truncation")
    dimensions = _dimension(body, model, EMBEDDING_MODELS[model])
    dtype, as_base64 = _format(body)
    data = [
        {
            "object": "embedding",
            "embedding": _encode(
                embedding_vector(f"{model}\x1f{input_type}\x1f{text}", dimensions),
                dtype,
                as_base64,
            ),
            "index": index,
        }
        for index, text in enumerate(texts)
    ]
    tokens = sum(estimate_tokens(text) for text in texts)
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": tokens}}


def _documents(raw: Any) -> list[list[str]]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "inputs must be a non-empty list of lists of strings.")
    if len(raw) > MAX_INPUTS:
        raise ApiError(400, f"inputs holds {len(raw)} documents; the limit is {MAX_INPUTS}.")
    documents = [_texts(item, "each document of inputs", MAX_CHUNKS) for item in raw]
    if sum(len(document) for document in documents) > MAX_CHUNKS:
        raise ApiError(400, f"inputs holds more than {MAX_CHUNKS} chunks in all.")
    return documents


def contextualized(body: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(body, _CONTEXT_KEYS)
    model = _model(body, tuple(CONTEXTUAL_MODELS), "contextualized embeddings")
    documents = _documents(body.get("inputs"))
    chunking = (body.get(key) for key in ("chunk_size", "chunk_overlap"))
    if body.get("enable_auto_chunking") or any(value is not None for value in chunking):
        raise ApiError(400, "The emulator does not chunk documents; send them chunked.")
    input_type = _input_type(body)
    dimensions = _dimension(body, model, CONTEXTUAL_MODELS[model])
    dtype, as_base64 = _format(body)
    data = []
    for index, chunks in enumerate(documents):
        context = "\x1e".join(chunks)
        vectors = [
            {
                "object": "embedding",
                "embedding": _encode(
                    embedding_vector(
                        f"{model}\x1f{input_type}\x1f{context}\x1f{position}", dimensions
                    ),
                    dtype,
                    as_base64,
                ),
                "index": position,
            }
            for position in range(len(chunks))
        ]
        data.append({"object": "list", "data": vectors, "index": index})
    tokens = sum(estimate_tokens(chunk) for chunks in documents for chunk in chunks)
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": tokens}}


def rerank_score(model: str, query: str, document: str) -> float:
    """A relevance in (0, 1): shared words lift it, a seeded spread breaks ties."""
    words = set(query.lower().split())
    overlap = len(words & set(document.lower().split())) / len(words) if words else 0.0
    spread = random.Random(request_seed("rerank", model, query, document)).random()
    return round(0.05 + 0.6 * overlap + 0.3 * spread, 6)


def _ranked(body: Mapping[str, Any]) -> tuple[str, list[str]]:
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise ApiError(400, "query must be a non-empty string.")
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ApiError(400, "documents must be a non-empty list of strings.")
    if len(documents) > MAX_DOCUMENTS:
        raise ApiError(400, f"documents holds {len(documents)}; the limit is {MAX_DOCUMENTS}.")
    if not all(isinstance(document, str) for document in documents):
        raise ApiError(400, "documents must hold strings only.")
    return query, documents


def rerank(body: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(body, _RERANK_KEYS)
    model = _model(body, RERANK_MODELS, "reranking")
    query, documents = _ranked(body)
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ApiError(400, "top_k must be a positive integer or null.")
    _flag(body, "truncation")
    with_documents = _flag(body, "return_documents")
    scores = [rerank_score(model, query, document) for document in documents]
    ranked = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:top_k]
    data = [
        {"index": i, "relevance_score": scores[i]}
        | ({"document": documents[i]} if with_documents else {})
        for i in ranked
    ]
    tokens = estimate_tokens(query) * len(documents) + sum(map(estimate_tokens, documents))
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": tokens}}


_HANDLERS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "/v1/embeddings": embeddings,
    "/v1/contextualizedembeddings": contextualized,
    "/v1/rerank": rerank,
}


def respond(endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The 200 body for `body` sent to `endpoint` (`/v1/...`); an invalid one raises ApiError."""
    return _HANDLERS[endpoint](body)


def check_data(endpoint: str, body: Mapping[str, Any]) -> None:
    """Raise the 400 a batch line's data would get, without working out an answer.

    The batch's `request_params` are checked at create, so a line can only be refused for its
    data; checking it while validating lets the batch count that line as failed from the start.
    """
    if endpoint == "/v1/embeddings":
        _texts(body.get("input"), "input", MAX_INPUTS)
    elif endpoint == "/v1/contextualizedembeddings":
        _documents(body.get("inputs"))
    else:
        _ranked(body)


def check_params(endpoint: str, params: Mapping[str, Any]) -> None:
    """Refuse a batch's `request_params` that the endpoint would refuse, or that hold data."""
    if endpoint not in _HANDLERS:
        raise ApiError(400, f"endpoint must be one of {', '.join(ENDPOINTS)}.")
    misplaced = sorted(DATA_KEYS[endpoint] & set(params))
    if misplaced:
        raise ApiError(
            400, f"request_params must not hold {', '.join(misplaced)}: data goes in the file."
        )
    respond(endpoint, {**params, **_SAMPLES[endpoint]})


def inputs_of_line(endpoint: str, body: Mapping[str, Any]) -> int:
    """How many inputs a batch line counts toward the batch's 100K limit."""
    if endpoint == "/v1/embeddings":
        raw = body.get("input")
        return len(raw) if isinstance(raw, list) else 1
    if endpoint == "/v1/contextualizedembeddings":
        raw = body.get("inputs")
        return len(raw) if isinstance(raw, list) else 1
    return 1
