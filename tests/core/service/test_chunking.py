"""Chunk planning: one kind and model per chunk, never over the count or byte limit."""

from __future__ import annotations

import pytest
from batchery.model import LlmRequest, Message, RequestKind
from batchery.service.chunking import BYTE_MARGIN, ChunkPlanner


def chat(i: int, model: str = "m") -> LlmRequest:
    return LlmRequest(custom_id=f"c{i}", model=model, messages=(Message("user", "x"),))


def test_a_chunk_closes_exactly_at_the_request_limit() -> None:
    planner = ChunkPlanner(max_requests=50_000, max_bytes=10**12)

    chunks = [planner.assign(chat(i), 10) for i in range(100_001)]

    assert chunks.count(0) == chunks.count(1) == 50_000
    assert chunks[-1] == 2
    assert [p.count for p in planner.plans()] == [50_000, 50_000, 1]


def test_a_chunk_closes_before_the_byte_limit_with_a_margin() -> None:
    planner = ChunkPlanner(max_requests=1000, max_bytes=1000)
    usable = int(1000 * BYTE_MARGIN)

    first = [planner.assign(chat(i), 95) for i in range(usable // 95)]
    spill = planner.assign(chat(99), 95)

    assert set(first) == {0}
    assert spill == 1
    assert all(p.size <= usable for p in planner.plans())


def test_a_request_that_fills_a_chunk_exactly_stays_in_it() -> None:
    planner = ChunkPlanner(max_requests=10, max_bytes=1000)
    usable = planner.max_bytes

    assert planner.assign(chat(0), usable - 1) == 0
    assert planner.assign(chat(1), 1) == 0
    assert planner.assign(chat(2), 1) == 1


def test_kinds_and_models_never_share_a_chunk() -> None:
    planner = ChunkPlanner(max_requests=10, max_bytes=10_000)
    embedding = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, model="m", input="t")

    indices = [
        planner.assign(chat(0), 1),
        planner.assign(chat(1, "other"), 1),
        planner.assign(embedding, 1),
        planner.assign(chat(2), 1),
    ]

    assert indices == [0, 1, 2, 0]
    assert [(p.kind, p.model, p.count) for p in planner.plans()] == [
        (RequestKind.CHAT, "m", 2),
        (RequestKind.CHAT, "other", 1),
        (RequestKind.EMBEDDING, "m", 1),
    ]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ChunkPlanner(max_requests=0, max_bytes=1)


def test_queries_and_documents_never_share_a_chunk() -> None:
    planner = ChunkPlanner(max_requests=10, max_bytes=10_000)

    def embedding(cid: str, input_type: str | None) -> LlmRequest:
        return LlmRequest(
            custom_id=cid, kind=RequestKind.EMBEDDING, model="m", input="t", input_type=input_type
        )

    indices = [
        planner.assign(embedding(c, t), 1)
        for c, t in (("a", "query"), ("b", "document"), ("c", "query"), ("d", None))
    ]

    assert indices == [0, 1, 0, 2]
