"""Writing a batch's requests to disk and its results JSONL when it ends (in a worker thread).

Each request that ran gets a `succeeded` line with the same `Message` realtime would give, or
an `errored` line when its params are invalid or the fault plan fails it; requests that never
ran get `canceled` or `expired` lines. The fault plan may also shuffle the lines, repeat a
line, add a line for a custom_id nobody sent, or break a line: cut in half, stripped of quotes,
turned into a JSON string, or led by bytes that are not UTF-8.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from batchery.emulator import FaultPlan

from batchery_anthropic.emulator._http import ApiError, derived_id
from batchery_anthropic.emulator._messages import respond
from batchery_anthropic.emulator._wire import BatchRequest, RequestCounts

__all__ = ["SHUFFLE_WINDOW", "write_requests", "write_results"]

SHUFFLE_WINDOW = 4096
"""The `shuffle` fault reorders lines within windows of this size, so memory stays bounded."""

_LINE_ERRORS = (
    ("invalid_request_error", "The emulator rejected this request."),
    ("overloaded_error", "Overloaded"),
    ("api_error", "Internal server error"),
)


def write_requests(requests: Iterable[BatchRequest], path: Path) -> None:
    """Keep a batch's requests on disk, one JSON line each, until it ends."""
    encoder = msgspec.json.Encoder()
    with path.open("wb") as out:
        for request in requests:
            out.write(encoder.encode(request) + b"\n")


def _read(path: Path) -> Iterator[BatchRequest]:
    decoder = msgspec.json.Decoder(BatchRequest)
    with path.open("rb") as source:
        for raw in source:
            yield decoder.decode(raw)


class _Sink:
    """The results file, written through a shuffling window when the plan says so."""

    def __init__(self, path: Path, order: random.Random | None) -> None:
        self._order = order
        self._window: list[bytes] = []
        self._out: BinaryIO = path.open("wb")

    def write(self, line: bytes) -> None:
        if self._order is None:
            self._out.write(line + b"\n")
            return
        self._window.append(line)
        if len(self._window) >= SHUFFLE_WINDOW:
            self._flush()

    def _flush(self) -> None:
        if self._order is not None:
            self._order.shuffle(self._window)
        self._out.writelines(line + b"\n" for line in self._window)
        self._window.clear()

    def close(self) -> None:
        self._flush()
        self._out.close()


def _malform(line: bytes, variant: int) -> bytes:
    if variant == 0:
        return line[: max(1, len(line) // 2)]
    if variant == 1:
        return line.replace(b'"', b"", 4)
    if variant == 2:
        return msgspec.json.encode(line.decode())
    return b"\xff\xfe" + line[:16]


def _errored(kind: str, message: str, request_id: str) -> dict[str, Any]:
    error = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    return {"type": "errored", "error": error}


def _result(
    request: BatchRequest, index: int, batch_id: str, plan: FaultPlan, fail: bool
) -> dict[str, Any]:
    request_id = derived_id("req_", batch_id, index)
    if fail:
        kind, message = _LINE_ERRORS[plan.pick("line_error", len(_LINE_ERRORS), batch_id, index)]
        return _errored(kind, message, request_id)
    try:
        params = msgspec.json.decode(request.params)
        message_id = derived_id("msg_", batch_id, index)
        answer = respond(params, message_id=message_id, service_tier="batch", batch=True)
    except ApiError as exc:
        return _errored(exc.error.type, exc.error.message, request_id)
    return {"type": "succeeded", "message": answer}


def write_results(
    *,
    input_path: Path,
    output_path: Path,
    batch_id: str,
    processed: int,
    unrun: str,
    plan: FaultPlan,
) -> RequestCounts:
    """Write the results of the first `processed` requests; the rest end as `unrun`.

    `unrun` is `canceled` or `expired`. The counts are the outcomes as Anthropic tallies them,
    whatever faults did to the lines.
    """
    order = None
    if plan.hit("shuffle", batch_id):
        order = random.Random(int(plan.roll("shuffle", batch_id, "order") * 2**32))
    sink = _Sink(output_path, order)
    every = plan.hit("all_errors", batch_id)
    tally = {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    encoder = msgspec.json.Encoder()
    try:
        for index, request in enumerate(_read(input_path)):
            if index >= processed:
                result: dict[str, Any] = {"type": unrun}
            else:
                fail = every or plan.hit("line_error", batch_id, index)
                result = _result(request, index, batch_id, plan, fail)
            tally[result["type"]] += 1
            line = encoder.encode({"custom_id": request.custom_id, "result": result})
            if plan.hit("malformed", batch_id, index):
                line = _malform(line, plan.pick("malformed", 4, batch_id, index))
            sink.write(line)
            if plan.hit("duplicate", batch_id, index):
                sink.write(line)
            if plan.hit("unknown_id", batch_id, index):
                stranger = derived_id("unknown_", batch_id, index)
                sink.write(encoder.encode({"custom_id": stranger, "result": result}))
    finally:
        sink.close()
    return RequestCounts(**tally)
