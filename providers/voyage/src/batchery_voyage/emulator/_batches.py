"""Voyage's Batches on the kit's batch engine: its checks, timings and batch object.

Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| `validating` | `VALIDATING_S` = 20 s |
| `in_progress` | `1 / REQUESTS_PER_S` = 0.2 s per request (5 requests per second) |
| `finalizing` | `FINALIZING_S` = 20 s |
| `cancelling` | `CANCELLING_S` = 30 s (Voyage allows up to 10 min) |
| window | `WINDOW_S` = 12 h from create |

100,000 requests take about 5.6 emulated hours, inside the window, so only the `batch_expire`
fault (which stalls a batch halfway) makes one run out of time. Voyage documents no status for
that case: its batch reference lists only `validating`, `failed`, `in_progress`, `finalizing`,
`completed`, `cancelling` and `cancelled` (the batch object of
`POST /v1/batches`, https://docs.voyageai.com/reference/create-batch),
and its batch guide (https://docs.voyageai.com/docs/batch-inference) says that when the 12 h
window ends the finished results are prepared and the unfinished requests go to the error file
as `batch_expired`. So the batch is finalized and ends `completed`, the documented ending of
`finalizing`, with its partial results kept. `partially_completed` (and
`partially_completed_at`), which older guide examples show, is not documented and not sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    Batch,
    BatchEngine,
    BatchError,
    FaultPlan,
    ListPage,
    ResultFiles,
    ScaledClock,
    Timeline,
    Validation,
)

from batchery_voyage.emulator._batch_io import line_renderer, validate_input
from batchery_voyage.emulator._files import OUTPUT_PURPOSE, FileStore
from batchery_voyage.emulator._http import ApiError, Ids, rfc3339
from batchery_voyage.emulator._responses import check_params
from batchery_voyage.emulator._wire import BatchObject, CreateBatchBody

__all__ = [
    "CANCELLING_S",
    "FINALIZING_S",
    "IN_FLIGHT",
    "REQUESTS_PER_S",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchStore",
]

VALIDATING_S = 20.0
REQUESTS_PER_S = 5.0
FINALIZING_S = 20.0
CANCELLING_S = 30.0
WINDOW_S = 12 * 3600.0
IN_FLIGHT = frozenset({"validating", "in_progress", "finalizing", "cancelling"})

TIMELINE = Timeline(
    validating_s=VALIDATING_S,
    requests_per_s=REQUESTS_PER_S,
    finalizing_s=FINALIZING_S,
    cancelling_s=CANCELLING_S,
    window_s=WINDOW_S,
    cancellable=frozenset({"validating", "in_progress"}),
    expired_status="completed",
    finalize_expired=True,
    count_rejected=True,
)


class BatchStore(BatchEngine[CreateBatchBody]):
    def __init__(
        self, root: Path, files: FileStore, ids: Ids, clock: ScaledClock, plan: FaultPlan
    ) -> None:
        super().__init__(root, clock, plan, TIMELINE, files.scratch_path)
        self._files = files
        self._ids = ids

    async def create(self, body: CreateBatchBody) -> BatchObject:
        _check_create(body)
        source = self._files.get(body.input_file_id)
        if source.wire.purpose != "batch":
            raise ApiError(400, f"File {body.input_file_id} was not uploaded with purpose 'batch'.")
        return _wire(self.open(self._ids.batch(), body, source.path))

    async def retrieve_wire(self, batch_id: str) -> BatchObject:
        return _wire(await self.retrieve(batch_id))

    async def cancel_wire(self, batch_id: str) -> BatchObject:
        """Start cancelling; Voyage refuses any batch no longer validating or in progress."""
        return _wire(await self.cancel(batch_id))

    async def in_flight(self) -> int:
        await self.refresh()
        return sum(batch.status in IN_FLIGHT for batch in self.batches())

    async def list_page(self, *, after: str | None, limit: int) -> ListPage:
        page, more = await self.page(after=after, limit=limit)
        return ListPage.of([_wire(b) for b in page], has_more=more)

    def snapshot(self) -> list[BatchObject]:
        return [_wire(b) for b in self.batches()]

    def validate(self, batch: Batch[CreateBatchBody]) -> Validation:
        return validate_input(batch.input_path, batch.job.endpoint, batch.id, self._plan)

    def write_results(
        self, batch: Batch[CreateBatchBody], output_path: Path, error_path: Path, at: float
    ) -> ResultFiles:
        render = line_renderer(
            batch_id=batch.id,
            endpoint=batch.job.endpoint,
            params=batch.job.request_params,
            validation=batch.validation.result(),
            unrun=batch.unrun,
            plan=self._plan,
        )
        return self.write_lines(batch, output_path, error_path, render)

    def keep_result(self, batch: Batch[CreateBatchBody], path: Path, kind: str, at: float) -> str:
        name = f"batch_{batch.id}_{kind}"
        return self._files.register(path, filename=name, purpose=OUTPUT_PURPOSE, created=at).id

    def token_limit(self, batch: Batch[CreateBatchBody], validation: Validation) -> BatchError:
        """The `token_limit` fault: Voyage caps tokens across in-flight batches at 1B (§4.7)."""
        message = (
            "The batch would take the tokens of in-flight batches past the organization's limit "
            "of 1,000,000,000. Please retry once some batches have finished."
        )
        return BatchError(code="token_limit_exceeded", message=message)

    def not_found(self, batch_id: str) -> ApiError:
        return ApiError(404, f"Batch {batch_id} not found.")

    def cannot_cancel(self, batch: Batch[CreateBatchBody]) -> ApiError:
        return ApiError(400, f"Batch {batch.id} cannot be cancelled in '{batch.status}'.")


def _wire(batch: Batch[CreateBatchBody]) -> BatchObject:
    """The batch as Voyage answers it, with RFC 3339 times."""
    body = batch.job
    stamps: dict[str, Any] = {f"{name}_at": rfc3339(at) for name, at in batch.times.items()}
    return BatchObject(
        id=batch.id,
        endpoint=body.endpoint,
        input_file_id=body.input_file_id,
        completion_window=body.completion_window,
        status=batch.status,
        created_at=rfc3339(batch.created),
        expected_completion_at=rfc3339(batch.created + WINDOW_S),
        model=body.request_params.get("model"),
        errors=batch.errors,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        request_counts=msgspec.structs.replace(batch.counts),
        metadata=dict(body.metadata) if body.metadata is not None else None,
        **stamps,
    )


def _check_create(body: CreateBatchBody) -> None:
    if body.completion_window != "12h":
        raise ApiError(400, f"completion_window must be '12h', not {body.completion_window!r}.")
    check_params(body.endpoint, body.request_params)
    metadata = body.metadata or {}
    if len(metadata) > 16:
        raise ApiError(400, "metadata holds at most 16 pairs.")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise ApiError(400, "metadata keys hold at most 64 characters, values 512.")
