"""OpenAI's Batches on the kit's batch engine: its checks, timings and batch object.

Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| `validating` | `VALIDATING_S` = 20 s |
| `in_progress` | `1 / REQUESTS_PER_S` = 0.4 s per request (2.5 requests per second) |
| `finalizing` | `FINALIZING_S` = 20 s |
| `cancelling` | `CANCELLING_S` = 30 s |
| window | `WINDOW_S` = 24 h from create to `expires_at` |

At `time_scale=100`, 300 requests take (20 + 120 + 20) / 100 = 1.6 real seconds; at
`time_scale=1` they take under three minutes, as a small real batch does. 50,000 requests need
about 5.6 emulated hours, well inside the window, so only the `batch_expire` fault (which stalls
a batch halfway) makes one expire: it ends `expired` at `expires_at`, with partial results.
Timestamps are whole Unix seconds, and each phase runs from the stamp OpenAI reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    Batch,
    BatchEngine,
    BatchError,
    BatchErrors,
    FaultPlan,
    ListPage,
    ResultFiles,
    ScaledClock,
    Timeline,
    Validation,
)

from batchery_openai.emulator._batch_io import line_renderer, validate_input
from batchery_openai.emulator._files import MAX_BATCH_FILE_BYTES, FileStore
from batchery_openai.emulator._http import ApiError, Ids
from batchery_openai.emulator._wire import BatchObject, BatchUsage, CreateBatchBody

__all__ = [
    "CANCELLING_S",
    "ENDPOINTS",
    "FINALIZING_S",
    "REQUESTS_PER_S",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchStore",
]

VALIDATING_S = 20.0
REQUESTS_PER_S = 2.5
FINALIZING_S = 20.0
CANCELLING_S = 30.0
WINDOW_S = 24 * 3600.0
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
"""The batch endpoints the emulator serves. The real API also takes `/v1/responses`,
`/v1/completions`, `/v1/moderations`, `/v1/images/generations`, `/v1/images/edits` and
`/v1/videos` (the spec's `CreateBatchRequest.endpoint` enum); the emulator refuses those as the
real API refuses an endpoint it does not support: a 400 `invalid_value` on `endpoint` that lists
the supported ones."""

TIMELINE = Timeline(
    validating_s=VALIDATING_S,
    requests_per_s=REQUESTS_PER_S,
    finalizing_s=FINALIZING_S,
    cancelling_s=CANCELLING_S,
    window_s=WINDOW_S,
    cancellable=frozenset({"validating", "in_progress", "finalizing"}),
    recancellable=frozenset({"cancelling", "cancelled"}),
    whole_seconds=True,
)


class _Job:
    """What the create asked for, and the usage its results add up to."""

    def __init__(self, body: CreateBatchBody) -> None:
        self.body = body
        self.output_ttl: int | None = None
        if body.output_expires_after is not None:
            self.output_ttl = int(body.output_expires_after.get("seconds", 0)) or None
        self.usage = BatchUsage()


class BatchStore(BatchEngine[_Job]):
    def __init__(
        self,
        root: Path,
        files: FileStore,
        ids: Ids,
        clock: ScaledClock,
        plan: FaultPlan,
        *,
        input_purpose: str = "batch",
    ) -> None:
        super().__init__(root, clock, plan, TIMELINE, files.scratch_path)
        self._files = files
        self._ids = ids
        self._input_purpose = input_purpose

    async def create(self, body: CreateBatchBody) -> BatchObject:
        _check_create(body)
        source = self._files.get(body.input_file_id)
        if source.wire.purpose != self._input_purpose:
            raise ApiError(
                400,
                f"The input file {body.input_file_id} was not uploaded with purpose "
                f"'{self._input_purpose}'.",
                param="input_file_id",
            )
        if source.wire.bytes > MAX_BATCH_FILE_BYTES:
            message = f"The input file is larger than the {MAX_BATCH_FILE_BYTES} byte limit."
            raise ApiError(400, message, param="input_file_id")
        return _wire(self.open(self._ids.batch(), _Job(body), source.path))

    async def retrieve_wire(self, batch_id: str) -> BatchObject:
        return _wire(await self.retrieve(batch_id))

    async def cancel_wire(self, batch_id: str) -> BatchObject:
        """Start cancelling; asking again while cancelling, or once cancelled, changes nothing."""
        return _wire(await self.cancel(batch_id))

    async def list_page(self, *, after: str | None, limit: int) -> ListPage:
        page, more = await self.page(after=after, limit=limit)
        return ListPage.of([_wire(b) for b in page], has_more=more)

    def snapshot(self) -> list[BatchObject]:
        return [_wire(b) for b in self.batches()]

    def validate(self, batch: Batch[_Job]) -> Validation:
        return validate_input(batch.input_path, batch.job.body.endpoint, batch.id, self._plan)

    def write_results(
        self, batch: Batch[_Job], output_path: Path, error_path: Path, at: float
    ) -> ResultFiles:
        usage = BatchUsage()
        render = line_renderer(
            batch_id=batch.id,
            validation=batch.validation.result(),
            unrun=batch.unrun,
            created=int(at),
            plan=self._plan,
            usage=usage,
        )
        results = self.write_lines(batch, output_path, error_path, render)
        batch.job.usage = usage
        return results

    def keep_result(self, batch: Batch[_Job], path: Path, kind: str, at: float) -> str:
        added = self._files.register(
            path, filename=f"{batch.id}_{kind}.jsonl", purpose="batch_output", created=at
        )
        if batch.job.output_ttl is not None:
            added.expires_at = added.created_at + batch.job.output_ttl
        return added.id

    def token_limit(self, batch: Batch[_Job], validation: Validation) -> BatchError:
        message = (
            f"Enqueued token limit reached for {validation.model or 'the model'} in organization"
            " org-emulator. Limit: 2,000,000 enqueued tokens. Please try again once some"
            " in_progress batches have been completed."
        )
        return BatchError(code="token_limit_exceeded", message=message)

    def not_found(self, batch_id: str) -> ApiError:
        return ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")

    def cannot_cancel(self, batch: Batch[_Job]) -> ApiError:
        message = f"Cannot cancel a batch with status '{batch.status}'."
        return ApiError(400, message, param="batch_id")


def _wire(batch: Batch[_Job]) -> BatchObject:
    """The batch as OpenAI answers it, a fresh copy every time."""
    body = batch.job.body
    stamps: dict[str, Any] = {f"{status}_at": int(at) for status, at in batch.times.items()}
    errors = batch.errors
    return BatchObject(
        id=batch.id,
        endpoint=body.endpoint,
        input_file_id=body.input_file_id,
        completion_window=body.completion_window,
        status=batch.status,
        created_at=int(batch.created),
        expires_at=int(batch.created + WINDOW_S),
        model=batch.model,
        errors=None if errors is None else BatchErrors(data=list(errors.data)),
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        request_counts=msgspec.structs.replace(batch.counts),
        usage=msgspec.json.decode(msgspec.json.encode(batch.job.usage), type=BatchUsage),
        metadata=None if body.metadata is None else dict(body.metadata),
        **stamps,
    )


def _check_create(body: CreateBatchBody) -> None:
    if body.completion_window != "24h":
        raise ApiError(
            400,
            f"Invalid 'completion_window': {body.completion_window!r}; only '24h' is supported.",
            param="completion_window",
        )
    if body.endpoint not in ENDPOINTS:
        supported = ", ".join(f"'{endpoint}'" for endpoint in ENDPOINTS)
        raise ApiError(
            400,
            f"Invalid value: '{body.endpoint}'. Supported values are: {supported}.",
            param="endpoint",
            code="invalid_value",
        )
    metadata = body.metadata or {}
    if len(metadata) > 16:
        raise ApiError(400, "Invalid 'metadata': at most 16 pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64:
            message = f"Invalid 'metadata': key {key[:16]!r}… is over 64 characters."
            raise ApiError(400, message, param="metadata")
        if len(value) > 512:
            message = f"Invalid 'metadata': the value of {key[:16]!r} is over 512 characters."
            raise ApiError(400, message, param="metadata")
    expiry = body.output_expires_after
    if expiry is not None:
        seconds = expiry.get("seconds")
        valid = isinstance(seconds, int) and 3600 <= seconds <= 2_592_000
        if expiry.get("anchor") != "created_at" or not valid:
            raise ApiError(
                400,
                "Invalid 'output_expires_after': anchor 'created_at', seconds 3600 to 2592000.",
                param="output_expires_after",
            )
