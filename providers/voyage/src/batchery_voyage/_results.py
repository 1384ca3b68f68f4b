"""Voyage answers back to neutral results: vectors, per-chunk vectors and rerank scores.

The same functions read a realtime answer and a batch output line's body, so both paths give
identical results for identical answers. Each returns None when the answer cannot be read as
what was asked for; the caller turns that into an explicit error.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Unpack

from batchery.model import AnswerPayload, LlmResult, Mode, Usage

from ._translate import PROVIDER
from ._wire import ContextualView, EmbeddingItem, EmbeddingView, RerankView, UsageView

__all__ = [
    "UNRANKED_SCORE",
    "contextual_result",
    "decode_vector",
    "embedding_result",
    "rerank_result",
    "rerank_scores",
]

UNRANKED_SCORE = 0.0
"""The score of a document left outside `top_k`: Voyage's relevance scores lie in [0, 1], so
it sorts last, and `LlmResult.scores` keeps one number per document in document order."""


def decode_vector(value: list[float] | str) -> tuple[float, ...]:
    """Floats from a number list or from base64 little-endian float32; ValueError if neither."""
    if isinstance(value, list):
        return tuple(value)
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError("an embedding is neither numbers nor base64") from exc
    if len(raw) % 4:
        raise ValueError("a base64 embedding is not a whole number of float32 values")
    return struct.unpack(f"<{len(raw) // 4}f", raw)


def _usage(view: UsageView | None) -> Usage:
    return Usage(input_tokens=view.total_tokens or 0) if view is not None else Usage()


def _answer(
    custom_id: str,
    view: EmbeddingView | ContextualView | RerankView,
    mode: Mode,
    **payload: Unpack[AnswerPayload],
) -> LlmResult:
    model, usage = view.model, _usage(view.usage)
    return LlmResult.success(
        custom_id, provider=PROVIDER, mode=mode, model=model, usage=usage, **payload
    )


def _ordered(items: list[EmbeddingItem]) -> list[EmbeddingItem]:
    """Items by their `index` when every item has a distinct one, else as listed."""
    indexes = [item.index for item in items]
    if None in indexes or len(set(indexes)) != len(indexes):
        return items
    return sorted(items, key=lambda item: item.index or 0)


def embedding_result(custom_id: str, view: EmbeddingView, mode: Mode) -> LlmResult | None:
    """The vector of a one-input embeddings answer; None when it holds no readable vector."""
    if not view.data:
        return None
    try:
        vector = decode_vector(_ordered(view.data)[0].embedding)
    except ValueError:
        return None
    return _answer(custom_id, view, mode, vector=vector)


def contextual_result(
    custom_id: str, view: ContextualView, mode: Mode, *, chunks: int | None = None
) -> LlmResult | None:
    """One vector per chunk of the answer's single document, in chunk order.

    `chunks`, when known, is how many the request sent; an answer with another count is
    unreadable rather than silently misaligned.
    """
    if len(view.data) != 1:
        return None
    items = _ordered(view.data[0].data)
    if not items or (chunks is not None and len(items) != chunks):
        return None
    try:
        vectors = tuple(decode_vector(item.embedding) for item in items)
    except ValueError:
        return None
    return _answer(custom_id, view, mode, vectors=vectors)


def rerank_scores(
    view: RerankView, *, documents: int | None, top_k: int | None
) -> tuple[float, ...] | None:
    """Scores in document order, whatever order Voyage ranked them in; None if inconsistent.

    Every document up to `top_k` must be scored exactly once; without `documents` (a batch line
    does not echo its request) the answer's own length is the document count. Documents beyond
    `top_k` get `UNRANKED_SCORE`, ties broken by the lower index, so a batch answer trimmed here
    equals a realtime answer Voyage trimmed.
    """
    count = documents if documents is not None else len(view.data)
    scores = [UNRANKED_SCORE] * count
    seen: set[int] = set()
    for item in view.data:
        if not 0 <= item.index < count or item.index in seen:
            return None
        seen.add(item.index)
        scores[item.index] = item.relevance_score
    if len(seen) < (count if top_k is None else min(top_k, count)):
        return None
    if top_k is not None and top_k < len(seen):
        ranked = sorted(seen, key=lambda index: (-scores[index], index))
        for index in ranked[top_k:]:
            scores[index] = UNRANKED_SCORE
    return tuple(scores)


def rerank_result(
    custom_id: str,
    view: RerankView,
    mode: Mode,
    *,
    documents: int | None = None,
    top_k: int | None = None,
) -> LlmResult | None:
    scores = rerank_scores(view, documents=documents, top_k=top_k)
    if scores is None or not scores:
        return None
    return _answer(custom_id, view, mode, scores=scores)
