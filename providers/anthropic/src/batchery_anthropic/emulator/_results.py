"""Writing a batch's requests to disk and its results JSONL when it ends (in a worker thread).

Each request that ran gets a `succeeded` line with the same `Message` realtime would give, or
an `errored` line when its params are invalid or the fault plan fails it; requests that never
ran get `canceled` or `expired` lines. The fault plan may also shuffle the lines, repeat a
line, add a line for a custom_id nobody sent, or break a line: cut in half, stripped of quotes,
turned into a JSON string, or led by bytes that are not UTF-8.

Invalid `params` (`max_tokens: 0`, no messages, `stream: true`) are not refused at create:
Anthropic validates each request's params only while processing it and reports the problem
when the batch has ended ("Validation of the params object for each message request is
performed asynchronously", Message Batches guide,
https://platform.claude.com/docs/en/build-with-claude/batch-processing), so such a request ends
`errored` with an `invalid_request_error`, exactly as the same params sent realtime are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    MALFORMED_VARIANTS,
    SHUFFLE_WINDOW,
    FaultPlan,
    LineSink,
    malform,
    shuffle_order,
)

from batchery_anthropic.emulator._http import ApiError, derived_id
from batchery_anthropic.emulator._messages import respond
from batchery_anthropic.emulator._wire import BatchRequest, RequestCounts

__all__ = ["SHUFFLE_WINDOW", "write_requests", "write_results"]

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
    sink = LineSink(output_path, shuffle_order(plan, batch_id))
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
                variant = plan.pick("malformed", MALFORMED_VARIANTS, batch_id, index)
                line = malform(line, variant)
            sink.write(line)
            if plan.hit("duplicate", batch_id, index):
                sink.write(line)
            if plan.hit("unknown_id", batch_id, index):
                stranger = derived_id("unknown_", batch_id, index)
                sink.write(encoder.encode({"custom_id": stranger, "result": result}))
    finally:
        sink.close()
    return RequestCounts(**tally)
