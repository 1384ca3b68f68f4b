"""Reading a batch's input and writing its result files, line by line (run in a worker thread).

Input lines are `{"custom_id", "body"}` with only the endpoint's data in `body`; the batch's
`request_params` supply the rest (provider-wire-formats.md §4.5). Voyage names no validation
codes, so the ones here (`invalid_json_line`, `invalid_request_line`, `duplicate_custom_id`,
`invalid_body`, `too_many_inputs`, `empty_file`, `file_too_large`) are the emulator's own.

Result lines carry `batch_id`. A failed request goes to the error file as a response with a
non-200 `status_code` and a `message`; a request the batch never ran (its window ran out, or
it was cancelled) goes there with `response: null` and an `error` coded `batch_expired` or
`batch_cancelled`. Malformed lines, when the fault plan asks, replace a good output line with a
truncated line, broken JSON, a JSON string instead of an object, or bytes that are not UTF-8.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from batchery.emulator import FaultPlan

from batchery_voyage.emulator._files import MAX_FILE_BYTES
from batchery_voyage.emulator._http import ApiError
from batchery_voyage.emulator._responses import DATA_KEYS, inputs_of_line, respond
from batchery_voyage.emulator._wire import BatchError, InputLine, RequestCounts

__all__ = [
    "MAX_INPUTS",
    "Results",
    "Validation",
    "derived_id",
    "failed_before",
    "validate_input",
    "write_results",
]

MAX_INPUTS = 100_000
MAX_REPORTED_ERRORS = 100
"""A failed batch lists at most this many line errors, as a real error list is also bounded."""
SHUFFLE_WINDOW = 4096
"""The `shuffle` fault reorders lines within windows of this size, so memory stays bounded."""

_LINE_ERRORS = (
    (400, "Invalid request: the emulator rejected this line."),
    (429, "Rate limit exceeded."),
    (500, "Internal Server Error"),
)
_UNRUN = {
    "expired": ("batch_expired", "This request could not be executed before the window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed: the batch was cancelled."),
}


class Validation(msgspec.Struct, kw_only=True):
    total: int = 0
    inputs: int = 0
    errors: list[BatchError] = msgspec.field(default_factory=list)
    failing: list[int] = msgspec.field(default_factory=list)
    """Indexes of the requests the fault plan fails with a non-200 line, sorted."""


class Results(msgspec.Struct, kw_only=True):
    output: Path | None
    errors: Path | None
    counts: RequestCounts


def derived_id(prefix: str, *parts: object) -> str:
    """An id fixed by its parts, so ids made in worker threads stay reproducible."""
    material = "\x1f".join([prefix, *map(str, parts)]).encode()
    return prefix + hashlib.blake2b(material, digest_size=16).hexdigest()


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        for raw in source:
            if raw.strip():
                yield raw


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
    if path.stat().st_size > MAX_FILE_BYTES:
        message = f"The input file is larger than the {MAX_FILE_BYTES} byte limit."
        result.errors.append(BatchError(code="file_too_large", message=message))
        return result
    decoder = msgspec.json.Decoder(InputLine)
    seen: set[str] = set()

    def fail(code: str, message: str, line: int, param: str | None = None) -> None:
        if len(result.errors) < MAX_REPORTED_ERRORS:
            result.errors.append(BatchError(code=code, message=message, param=param, line=line))

    for number, raw in enumerate(_lines(path), start=1):
        result.total += 1
        try:
            item = decoder.decode(raw)
        except msgspec.ValidationError as exc:
            fail("invalid_request_line", f"Invalid request line: {exc}", number)
            continue
        except msgspec.DecodeError:
            fail("invalid_json_line", "This line is not valid JSON.", number)
            continue
        if not item.custom_id:
            fail("invalid_request_line", "custom_id must not be empty.", number, "custom_id")
        elif item.custom_id in seen:
            message = f"The custom_id {item.custom_id!r} is a duplicate of another request."
            fail("duplicate_custom_id", message, number, "custom_id")
        seen.add(item.custom_id)
        problem = _body_problem(endpoint, item.body)
        if problem is not None:
            fail("invalid_body", f"Invalid body: {problem}.", number, "body")
        result.inputs += inputs_of_line(endpoint, item.body)
    if result.total == 0:
        result.errors.append(BatchError(code="empty_file", message="The input file is empty."))
    if result.inputs > MAX_INPUTS:
        message = f"The batch has {result.inputs} inputs; the limit is {MAX_INPUTS}."
        result.errors.insert(0, BatchError(code="too_many_inputs", message=message))
    if not result.errors:
        every = plan.hit("all_errors", batch_id)
        result.failing = [
            i for i in range(result.total) if every or plan.hit("line_error", batch_id, i)
        ]
    return result


def failed_before(validation: Validation, processed: int) -> int:
    return bisect.bisect_left(validation.failing, processed)


class _Sink:
    """One result file, written through a shuffling window when the plan says so."""

    def __init__(self, path: Path, order: random.Random | None) -> None:
        self.path = path
        self.lines = 0
        self._order = order
        self._window: list[bytes] = []
        self._out: BinaryIO = path.open("wb")

    def write(self, line: bytes) -> None:
        self.lines += 1
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

    def close(self) -> Path | None:
        self._flush()
        self._out.close()
        if self.lines == 0:
            self.path.unlink()
            return None
        return self.path


def _malform(line: bytes, variant: int) -> bytes:
    if variant == 0:
        return line[: max(1, len(line) // 2)]
    if variant == 1:
        return line.replace(b'"', b"", 4)
    if variant == 2:
        return msgspec.json.encode(line.decode())
    return b"\xff\xfe" + line[:16]


def write_results(
    *,
    input_path: Path,
    output_path: Path,
    error_path: Path,
    batch_id: str,
    endpoint: str,
    params: Mapping[str, Any],
    validation: Validation,
    processed: int,
    unrun: str,
    plan: FaultPlan,
) -> Results:
    """Write the result files for the first `processed` requests; the rest are unrun.

    `unrun` says why the others never ran: `expired` or `cancelled`.
    """
    order = None
    if plan.hit("shuffle", batch_id):
        order = random.Random(int(plan.roll("shuffle", batch_id, "order") * 2**32))
    output, errors = _Sink(output_path, order), _Sink(error_path, order)
    failing = set(validation.failing)
    decoder = msgspec.json.Decoder(InputLine)
    counts = RequestCounts(total=validation.total)
    for index, raw in enumerate(_lines(input_path)):
        item = decoder.decode(raw)
        line: dict[str, Any] = {"batch_id": batch_id, "custom_id": item.custom_id}
        if index >= processed:
            code, message = _UNRUN[unrun]
            line |= {"response": None, "error": {"code": code, "message": message}}
            errors.write(msgspec.json.encode(line))
            counts.failed += 1
            continue
        status, payload = _answer(endpoint, {**params, **item.body}, index, batch_id, failing, plan)
        line |= {"response": payload, "error": None}
        encoded = msgspec.json.encode(line)
        if status != 200:
            errors.write(encoded)
            counts.failed += 1
            continue
        counts.completed += 1
        if plan.hit("malformed", batch_id, index):
            encoded = _malform(encoded, plan.pick("malformed", 4, batch_id, index))
        output.write(encoded)
        if plan.hit("duplicate", batch_id, index):
            output.write(encoded)
        if plan.hit("unknown_id", batch_id, index):
            line["custom_id"] = derived_id("unknown-", batch_id, index)
            output.write(msgspec.json.encode(line))
    return Results(output=output.close(), errors=errors.close(), counts=counts)


def _answer(
    endpoint: str,
    body: Mapping[str, Any],
    index: int,
    batch_id: str,
    failing: set[int],
    plan: FaultPlan,
) -> tuple[int, dict[str, Any]]:
    """A line's status and `response` object: `body` on success, `message` on failure."""
    if index in failing:
        status, message = _LINE_ERRORS[plan.pick("line_error", 3, batch_id, index)]
        return status, {"status_code": status, "message": message}
    try:
        return 200, {"status_code": 200, "body": respond(endpoint, body)}
    except ApiError as exc:
        return exc.status, {"status_code": exc.status, "message": exc.detail}
