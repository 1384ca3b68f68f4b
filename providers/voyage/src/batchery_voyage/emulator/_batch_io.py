"""Reading a batch's input and writing its result lines, in Voyage's format (worker threads).

Input lines are `{"custom_id", "body"}` with only the endpoint's data in `body`; the batch's
`request_params` supply the rest (provider-wire-formats.md §4.5). Voyage names no validation
codes, so the ones here (`invalid_json_line`, `invalid_request_line`, `duplicate_custom_id`,
`invalid_body`, `too_many_inputs`, `empty_file`, `file_too_large`) are the emulator's own.

Result lines carry `batch_id`. A failed request goes to the error file as a response with a
non-200 `status_code` and a `message`; a request the batch never ran (its window ran out, or
it was cancelled) goes there with `response: null` and an `error` coded `batch_expired` or
`batch_cancelled`. A line whose data the endpoint would refuse (an empty input, say) is found
while validating and counted as failed from the start, so `request_counts` never go down.
The kit's writer adds the plan's line faults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    BatchError,
    FaultPlan,
    Outcome,
    Render,
    Validation,
    input_lines,
)
from batchery_openai_batch.emulator import UNRUN, decoded_lines, drawn, too_large

from batchery_voyage.emulator._files import MAX_FILE_BYTES
from batchery_voyage.emulator._http import ApiError
from batchery_voyage.emulator._responses import DATA_KEYS, check_data, inputs_of_line, respond
from batchery_voyage.emulator._wire import InputLine

__all__ = ["MAX_INPUTS", "line_renderer", "validate_input"]

MAX_INPUTS = 100_000

_LINE_ERRORS = (
    (400, "Invalid request: the emulator rejected this line."),
    (429, "Rate limit exceeded."),
    (500, "Internal Server Error"),
)


def _body_problem(endpoint: str, body: Mapping[str, Any]) -> str | None:
    wanted = DATA_KEYS[endpoint]
    extra = sorted(set(body) - wanted)
    if extra:
        return f"body may hold only {', '.join(sorted(wanted))}; found {', '.join(extra)}"
    missing = sorted(wanted - set(body))
    if missing:
        return f"body is missing {', '.join(missing)}"
    return None


def validate_input(path: Path, endpoint: str, batch_id: str, plan: FaultPlan) -> Validation:
    """Check every input line; any problem fails the whole batch."""
    result = Validation()
    if too_large(path, MAX_FILE_BYTES, result):
        return result
    seen: set[str] = set()
    inputs = 0
    for number, item in decoded_lines(
        enumerate((raw for _, raw in input_lines(path)), start=1),
        msgspec.json.Decoder(InputLine),
        result,
        invalid="invalid_request_line",
        not_json="This line is not valid JSON.",
    ):
        if not item.custom_id:
            result.fail("invalid_request_line", "custom_id must not be empty.", number, "custom_id")
        elif item.custom_id in seen:
            message = f"The custom_id {item.custom_id!r} is a duplicate of another request."
            result.fail("duplicate_custom_id", message, number, "custom_id")
        seen.add(item.custom_id)
        problem = _body_problem(endpoint, item.body)
        if problem is not None:
            result.fail("invalid_body", f"Invalid body: {problem}.", number, "body")
        else:
            try:
                check_data(endpoint, item.body)
            except ApiError:
                result.refused.append(result.total - 1)
        inputs += inputs_of_line(endpoint, item.body)
    if inputs > MAX_INPUTS:
        message = f"The batch has {inputs} inputs; the limit is {MAX_INPUTS}."
        result.errors.insert(0, BatchError(code="too_many_inputs", message=message))
    return drawn(result, plan, batch_id)


def line_renderer(
    *,
    batch_id: str,
    endpoint: str,
    params: Mapping[str, Any],
    validation: Validation,
    unrun: str,
    plan: FaultPlan,
) -> Render:
    """How each request's result line is written; `unrun` says why a request never ran
    (`expired` or `cancelled`)."""
    decoder = msgspec.json.Decoder(InputLine)
    refused = set(validation.refused)

    def render(index: int, raw: bytes, outcome: Outcome) -> tuple[dict[str, Any], bool]:
        item = decoder.decode(raw)
        line: dict[str, Any] = {"batch_id": batch_id, "custom_id": item.custom_id}
        if outcome == "unrun":
            code, message = UNRUN[unrun]
            return line | {"response": None, "error": {"code": code, "message": message}}, False
        if outcome == "failed" and index not in refused:
            status, message = _LINE_ERRORS[plan.pick("line_error", 3, batch_id, index)]
            payload: dict[str, Any] = {"status_code": status, "message": message}
        else:
            status, payload = _answer(endpoint, {**params, **item.body})
        return line | {"response": payload, "error": None}, status == 200

    return render


def _answer(endpoint: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """A line's status and `response` object: `body` on success, `message` on failure."""
    try:
        return 200, {"status_code": 200, "body": respond(endpoint, body)}
    except ApiError as exc:
        return exc.status, {"status_code": exc.status, "message": exc.detail}
