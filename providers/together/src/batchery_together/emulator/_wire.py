"""Together's batch object, made from the OpenAI emulator's, and the batch store that answers it.

The batch engine is the OpenAI emulator's (its checks, timeline and result lines); this only
respells what it answers: upper-case statuses (`finalizing` is still `IN_PROGRESS` to Together),
RFC 3339 times, a `progress` percentage instead of counts, one `error` string, no `metadata`,
and the batch list as a bare array, newest first.
"""

from __future__ import annotations

import msgspec
from batchery.emulator import rfc3339
from batchery_openai.emulator import BatchObject, BatchStore, CreateBatchBody

__all__ = ["TogetherBatch", "TogetherBatches", "together_batch"]

_STATUSES = {"finalizing": "IN_PROGRESS"}


class TogetherBatch(msgspec.Struct, kw_only=True):
    id: str
    user_id: str
    input_file_id: str
    status: str
    created_at: str
    job_deadline: str | None
    endpoint: str
    progress: float
    model_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    error: str | None = None
    completed_at: str | None = None


def _stamp(seconds: int | None) -> str | None:
    return None if seconds is None else rfc3339(seconds, zulu=True)


def together_batch(batch: BatchObject) -> TogetherBatch:
    """The OpenAI emulator's batch as Together answers it."""
    counts = batch.request_counts
    done = counts.completed + counts.failed
    errors = "; ".join(e.message for e in batch.errors.data) if batch.errors else None
    return TogetherBatch(
        id=batch.id,
        user_id="user_emulator",
        input_file_id=batch.input_file_id,
        status=_STATUSES.get(batch.status, batch.status.upper()),
        created_at=rfc3339(batch.created_at, zulu=True),
        job_deadline=_stamp(batch.expires_at),
        endpoint=batch.endpoint,
        progress=100.0 * done / counts.total if counts.total else 0.0,
        model_id=batch.model,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        error=errors or None,
        completed_at=_stamp(batch.completed_at),
    )


class TogetherBatches:
    """The OpenAI emulator's batch store, answering in Together's objects."""

    def __init__(self, engine: BatchStore) -> None:
        self._engine = engine

    async def create(self, body: CreateBatchBody) -> TogetherBatch:
        return together_batch(await self._engine.create(body))

    def hidden(self, batch_id: str) -> bool:
        return self._engine.hidden(batch_id)

    async def retrieve_wire(self, batch_id: str) -> TogetherBatch:
        return together_batch(await self._engine.retrieve_wire(batch_id))

    async def list_page(self, *, after: str | None, limit: int) -> list[TogetherBatch]:
        """Every batch, newest first: Together's list has no pages."""
        await self._engine.refresh()
        return [together_batch(batch) for batch in reversed(self._engine.snapshot())]

    async def cancel_wire(self, batch_id: str) -> TogetherBatch:
        return together_batch(await self._engine.cancel_wire(batch_id))

    def snapshot(self) -> list[TogetherBatch]:
        return [together_batch(batch) for batch in self._engine.snapshot()]

    async def wait_idle(self) -> None:
        await self._engine.wait_idle()

    async def refresh(self) -> None:
        await self._engine.refresh()
