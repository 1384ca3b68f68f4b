"""Batches and their state machine, driven by the scaled clock.

State advances lazily: each read works out where the batch's timeline stands at emulated "now"
and applies every transition due since the last read, with the timestamps they were due at, so
no background task is needed. Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| `PENDING` | `PENDING_S` = 10 s |
| `RUNNING` | `1 / REQUESTS_PER_S` = 0.4 s per request |
| expiry | `EXPIRE_S` = 48 h pending or running, then `EXPIRED` with no results |

A batch ends `SUCCEEDED`, or `FAILED` when its input cannot be read or every request failed.
Cancel is best effort: a pending or running batch is `CANCELLED` at once, keeping the results
of the requests already run; cancelling a cancelled batch changes nothing. States are spelled
`BATCH_STATE_*`, or `JOB_STATE_*` when the emulator is asked to.

Each batch is a `google.longrunning.Operation`, whose contract
(googleapis/googleapis `google/longrunning/operations.proto`) is that a done operation holds
exactly one of `error` and `response`, and that a cancelled one holds `error` with code 1
(`CANCELLED`). So only a `SUCCEEDED` batch has a `response`; `CANCELLED` has error 1, `FAILED`
error 3 (`INVALID_ARGUMENT`, unreadable input) or 13 (`INTERNAL`, every request failed), and
`EXPIRED` error 4 (`DEADLINE_EXCEEDED`). What a cancelled or failed batch did run stays in the
batch's own `output` (`metadata.output`, "the output of the batch request" in the Gemini API
reference, https://ai.google.dev/api/batch-mode); an expired batch has none, as the batch
guide says of a job past its 48 hours (https://ai.google.dev/gemini-api/docs/batch-api).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from batchery.emulator import FaultPlan, ScaledClock

from batchery_gemini.emulator._batch_io import (
    Results,
    Validation,
    failed_before,
    validate_input,
    write_inline_input,
    write_results,
)
from batchery_gemini.emulator._files import FileStore, new_id
from batchery_gemini.emulator._http import ApiError
from batchery_gemini.emulator._responses import field
from batchery_gemini.emulator._wire import (
    BATCH_TYPE,
    EMBED_BATCH_TYPE,
    BatchResource,
    BatchStats,
    Operation,
    OperationList,
    Status,
    int64,
    rfc3339,
)

__all__ = ["EXPIRE_S", "PENDING_S", "REQUESTS_PER_S", "BatchStore"]

PENDING_S = 10.0
REQUESTS_PER_S = 2.5
EXPIRE_S = 48 * 3600.0

_T = TypeVar("_T")
_LIVE = frozenset({"PENDING", "RUNNING"})
_CANCELLED = Status(code=1, message="CANCELLED")
_EXPIRED = Status(code=4, message="The batch expired: it did not finish within 48 hours.")


class _Batch:
    def __init__(self, *, name: str, kind: str, model: str, created: float) -> None:
        self.name = name
        self.kind = kind
        self.model = model
        self.created = created
        self.updated = created
        self.display_name: str | None = None
        self.input_config: dict[str, Any] = {}
        self.inline = False
        self.input_path = Path()
        self.validation: asyncio.Task[Validation] | None = None
        self.lock = asyncio.Lock()
        self.state = "PENDING"
        self.started = 0.0
        self.stall: int | None = None
        self.ended: float | None = None
        self.total = 0
        self.succeeded = 0
        self.failed = 0
        self.output: dict[str, Any] | None = None
        self.error: Status | None = None


class BatchStore:
    def __init__(
        self, root: Path, files: FileStore, clock: ScaledClock, plan: FaultPlan, prefix: str
    ) -> None:
        self._root = root
        self._files = files
        self._clock = clock
        self._plan = plan
        self._prefix = prefix
        self._batches: dict[str, _Batch] = {}
        self._work: set[asyncio.Task[Any]] = set()

    async def _in_thread(self, function: Callable[..., _T], /, **kwargs: Any) -> _T:
        """Run `function` in a worker thread that outlives a cancelled request, for `wait_idle`."""
        task = asyncio.ensure_future(asyncio.to_thread(function, **kwargs))
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        return await asyncio.shield(task)

    async def create(self, kind: str, model: str, body: Mapping[str, Any]) -> Operation:
        spec = body.get("batch")
        if not isinstance(spec, Mapping):
            raise ApiError(400, "* BatchGenerateContentRequest.batch: batch is required")
        config = field(spec, "inputConfig")
        if not isinstance(config, Mapping):
            raise ApiError(400, "* batch.input_config: input_config is required")
        file_name = field(config, "fileName")
        requests = config.get("requests")
        entries = requests.get("requests") if isinstance(requests, Mapping) else None
        if (file_name is None) == (entries is None):
            raise ApiError(400, "* batch.input_config: exactly one of file_name or requests.")
        batch = _Batch(
            name=f"batches/{new_id(32)}", kind=kind, model=model, created=self._clock.now()
        )
        display = field(spec, "displayName")
        batch.display_name = display if isinstance(display, str) else None
        batch.input_path = self._root / f"{batch.name.replace('/', '_')}.input.jsonl"
        if entries is not None:
            if not isinstance(entries, list) or not entries:
                raise ApiError(400, "* batch.input_config.requests.requests: requests is empty")
            batch.inline, batch.input_config = True, {"requests": {}}
            batch.total = len(entries)
            await self._in_thread(write_inline_input, entries=entries, path=batch.input_path)
        else:
            source = self._files.get(str(file_name))
            batch.input_config = {"fileName": str(file_name)}
            await self._in_thread(_copy, source=source.path, target=batch.input_path)
        batch.validation = asyncio.ensure_future(
            self._in_thread(
                validate_input, path=batch.input_path, batch_id=batch.name, plan=self._plan
            )
        )
        self._batches[batch.name] = batch
        return self._operation(batch)

    def _get(self, name: str) -> _Batch:
        batch = self._batches.get(name)
        if batch is None:
            raise ApiError(404, f"Batch {name.removeprefix('batches/')} not found.")
        return batch

    def created_at(self, name: str) -> float:
        return self._get(name).created

    async def get(self, name: str) -> Operation:
        batch = self._get(name)
        await self._advance(batch)
        return self._operation(batch)

    async def list_page(self, *, size: int, token: str | None) -> OperationList:
        """Newest first; inline responses are left out, as the API does (call get for them)."""
        ordered = list(reversed(self._batches.values()))
        start = int(token) if token and token.isdigit() else 0
        page = ordered[start : start + size]
        for batch in page:
            await self._advance(batch)
        more = start + size < len(ordered)
        return OperationList(
            operations=[self._operation(b, inline=False) for b in page],
            next_page_token=str(start + size) if more else None,
        )

    async def cancel(self, name: str) -> None:
        batch = self._get(name)
        await self._advance(batch)
        async with batch.lock:
            if batch.state in _LIVE:
                now = self._clock.now()
                processed = self._processed(batch, now) if batch.state == "RUNNING" else 0
                await self._finish(batch, "CANCELLED", now, processed)
            elif batch.state != "CANCELLED":
                raise ApiError(
                    400,
                    f"Batch {name.removeprefix('batches/')} is already {batch.state.lower()}.",
                    status="FAILED_PRECONDITION",
                )

    async def delete(self, name: str) -> None:
        batch = self._get(name)
        del self._batches[name]
        if batch.validation is not None:
            await asyncio.wait({batch.validation})
        batch.input_path.unlink(missing_ok=True)

    async def refresh(self) -> None:
        for batch in list(self._batches.values()):
            await self._advance(batch)

    def snapshot(self) -> list[Operation]:
        return [self._operation(b) for b in self._batches.values()]

    async def wait_idle(self) -> None:
        """Let work still running in worker threads finish, before files are removed."""
        while self._work:
            await asyncio.wait(set(self._work))

    def _processed(self, batch: _Batch, at: float) -> int:
        done = int((at - batch.started) * REQUESTS_PER_S + 1e-9)
        return max(0, min(batch.total, done, batch.total if batch.stall is None else batch.stall))

    async def _advance(self, batch: _Batch) -> None:
        async with batch.lock:
            while await self._step(batch, self._clock.now()):
                pass

    async def _step(self, batch: _Batch, now: float) -> bool:
        """Apply the next transition due by `now`; False when the batch is where it should be."""
        expires = batch.created + EXPIRE_S
        if batch.state == "PENDING":
            assert batch.validation is not None
            due = batch.created + PENDING_S
            if now < due:
                if batch.validation.done() and batch.validation.result().error is None:
                    batch.total = batch.validation.result().total
                return False
            validation = await batch.validation
            if validation.error is not None:
                batch.state, batch.ended, batch.updated = "FAILED", due, due
                batch.error = Status(code=3, message=validation.error)
                return False
            batch.state, batch.started, batch.updated = "RUNNING", due, due
            batch.total = validation.total
            if self._plan.hit("batch_expire", batch.name):
                batch.stall = validation.total // 2
            return True
        if batch.state == "RUNNING":
            done_at = batch.started + batch.total / REQUESTS_PER_S
            if batch.stall is not None or done_at > expires:
                if now >= expires:
                    self._count(batch, self._processed(batch, expires))
                    batch.state, batch.ended, batch.updated = "EXPIRED", expires, expires
                    batch.error = _EXPIRED
                    return False
            elif now >= done_at:
                await self._finish(batch, "SUCCEEDED", done_at, batch.total)
                return False
            self._count(batch, self._processed(batch, now))
            batch.updated = now
        return False

    def _count(self, batch: _Batch, processed: int) -> None:
        assert batch.validation is not None
        failed = failed_before(batch.validation.result(), processed)
        batch.succeeded, batch.failed = processed - failed, failed

    async def _finish(self, batch: _Batch, ending: str, at: float, processed: int) -> None:
        assert batch.validation is not None
        validation = await batch.validation
        if validation.error is None and processed:
            results: Results = await self._in_thread(
                write_results,
                input_path=batch.input_path,
                output_path=None if batch.inline else self._files.scratch_path(),
                batch_id=batch.name,
                kind=batch.kind,
                model=batch.model,
                validation=validation,
                processed=processed,
                plan=self._plan,
            )
            self._attach(batch, results)
        batch.total = validation.total
        batch.state, batch.ended, batch.updated = ending, at, at
        if ending == "CANCELLED":
            batch.error = _CANCELLED
        elif batch.total and batch.failed == batch.total:
            batch.state = "FAILED"
            batch.error = Status(code=13, message="Every request in the batch failed.")

    def _attach(self, batch: _Batch, results: Results) -> None:
        batch.succeeded, batch.failed = results.succeeded, results.failed
        if results.inline is not None:
            batch.output = {"inlinedResponses": {"inlinedResponses": results.inline}}
        elif results.file is not None and results.sha256 is not None:
            name = f"files/batch-{batch.name.removeprefix('batches/')}"
            self._files.add_generated(results.file, name, results.sha256)
            batch.output = {"responsesFile": name}

    def _operation(self, batch: _Batch, *, inline: bool = True) -> Operation:
        pending = batch.total - batch.succeeded - batch.failed
        if batch.state not in _LIVE:
            pending = 0
        output = batch.output
        if output is not None and not inline:
            output = {k: v for k, v in output.items() if k != "inlinedResponses"} or None
        kind = EMBED_BATCH_TYPE if batch.kind == "embed" else BATCH_TYPE
        done = batch.state not in _LIVE
        resource = BatchResource(
            type=kind,
            name=batch.name,
            model=batch.model,
            display_name=batch.display_name,
            input_config=batch.input_config,
            output=output,
            create_time=rfc3339(batch.created),
            update_time=rfc3339(batch.updated),
            end_time=rfc3339(batch.ended) if batch.ended is not None else None,
            batch_stats=BatchStats(
                request_count=int64(batch.total),
                successful_request_count=int64(batch.succeeded),
                failed_request_count=int64(batch.failed),
                pending_request_count=int64(pending),
            ),
            state=self._prefix + batch.state,
        )
        succeeded = batch.state == "SUCCEEDED"
        response = {"@type": kind + "Output", **output} if succeeded and output else None
        return Operation(
            name=batch.name,
            metadata=resource,
            done=done,
            error=batch.error,
            response=response,
        )


def _copy(source: Path, target: Path) -> None:
    """Give `target` the bytes of `source`, without copying them when the filesystem allows."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
