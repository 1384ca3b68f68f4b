"""Split a batch job into chunks that each fit one provider batch.

A provider batch holds one kind, one model and one input type (a Voyage batch embeds either
queries or documents), at most `max_requests` requests and at most `max_bytes` of upload. The
byte limit is applied with a margin because providers count the file as they receive it, not
as we estimate it.
"""

from __future__ import annotations

import msgspec

from batchery.model import LlmRequest, RequestKind

__all__ = ["BYTE_MARGIN", "ChunkPlan", "ChunkPlanner"]

BYTE_MARGIN = 0.95


class ChunkPlan(msgspec.Struct, frozen=True):
    index: int
    kind: RequestKind
    model: str | None
    count: int
    size: int


class _Open(msgspec.Struct):
    index: int
    count: int = 0
    size: int = 0


class ChunkPlanner:
    """Assigns requests to chunks in one pass, so a job of any size streams through it."""

    def __init__(self, *, max_requests: int, max_bytes: int) -> None:
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("chunk limits must be positive")
        self._max_requests = max_requests
        self._max_bytes = int(max_bytes * BYTE_MARGIN)
        self._open: dict[tuple[RequestKind, str | None, str | None], _Open] = {}
        self._plans: dict[int, ChunkPlan] = {}
        self._next = 0

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def assign(self, request: LlmRequest, size: int) -> int:
        """The chunk index for `request`, whose upload takes `size` bytes."""
        key = (request.kind, request.model, request.input_type)
        current = self._open.get(key)
        if current is None or (
            current.count + 1 > self._max_requests or current.size + size > self._max_bytes
        ):
            current = self._open[key] = _Open(self._next)
            self._next += 1
        current.count += 1
        current.size += size
        self._plans[current.index] = ChunkPlan(
            current.index, request.kind, request.model, current.count, current.size
        )
        return current.index

    def plans(self) -> list[ChunkPlan]:
        return [self._plans[i] for i in sorted(self._plans)]
