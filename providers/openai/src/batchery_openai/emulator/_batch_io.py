"""Reading a batch's input and writing its result files, line by line (run in a worker thread).

Validation codes follow what third parties report from OpenAI (`invalid_json_line`,
`duplicate_custom_id`, `url_mismatch`, `model_mismatch`, `empty_file`, `too_many_tasks`); OpenAI
does not document them. Result lines for requests a batch never ran (it expired or was
cancelled first) go to the error file as `batch_expired` / `batch_cancelled` errors, the way an
expired OpenAI batch reports them. Malformed lines, when the fault plan asks, replace a good
output line with a truncated line, broken JSON, a JSON string instead of an object, or bytes that
are not UTF-8.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from batchery.emulator import FaultPlan

from batchery_openai.emulator._http import ApiError
from batchery_openai.emulator._responses import respond
from batchery_openai.emulator._wire import BatchError, BatchUsage, InputLine, RequestCounts

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_REQUESTS",
    "Results",
    "Validation",
    "derived_id",
    "validate_input",
    "write_results",
]

MAX_REQUESTS = 50_000
MAX_INPUT_BYTES = 200 * 1024 * 1024
MAX_REPORTED_ERRORS = 100
"""A failed batch lists at most this many line errors, as a real error list is also bounded."""
SHUFFLE_WINDOW = 4096
"""The `shuffle` fault reorders lines within windows of this size, so memory stays bounded."""

_LINE_ERRORS = (
    (400, "invalid_request_error", None, "Invalid request: the emulator rejected this line."),
    (429, "rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached for requests."),
    (500, "server_error", None, "The server had an error while processing your request."),
)
_UNRUN = {
    "expired": ("batch_expired", "This request could not be executed before the window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed: the batch was cancelled."),
}


class Validation(msgspec.Struct, kw_only=True):
    total: int = 0
    model: str | None = None
    errors: list[BatchError] = msgspec.field(default_factory=list)
    failing: list[int] = msgspec.field(default_factory=list)
    """Indexes of the requests the fault plan fails with a non-200 line, sorted."""


class Results(msgspec.Struct, kw_only=True):
    output: Path | None
    errors: Path | None
    counts: RequestCounts
    usage: BatchUsage


def derived_id(prefix: str, *parts: object) -> str:
    """An id fixed by its parts, so ids made in worker threads stay reproducible."""
    material = "\x1f".join([prefix, *map(str, parts)]).encode()
    return prefix + hashlib.blake2b(material, digest_size=16).hexdigest()


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            if raw.strip():
                yield number, raw


def validate_input(path: Path, endpoint: str, batch_id: str, plan: FaultPlan) -> Validation:
    """Check every input line; any problem fails the whole batch, as OpenAI does."""
    result = Validation()
    if path.stat().st_size > MAX_INPUT_BYTES:
        message = f"The input file is larger than the {MAX_INPUT_BYTES} byte limit."
        result.errors.append(BatchError(code="file_too_large", message=message))
        return result
    decoder = msgspec.json.Decoder(InputLine)
    seen: set[str] = set()
    inputs = 0

    def fail(code: str, message: str, line: int, param: str | None = None) -> None:
        if len(result.errors) < MAX_REPORTED_ERRORS:
            result.errors.append(BatchError(code=code, message=message, param=param, line=line))

    for number, raw in _lines(path):
        result.total += 1
        try:
            item = decoder.decode(raw)
        except msgspec.ValidationError as exc:
            fail("invalid_request", f"Invalid request line: {exc}", number)
            continue
        except msgspec.DecodeError:
            fail("invalid_json_line", "This line is not parseable as valid JSON.", number)
            continue
        if item.custom_id in seen:
            message = f"The custom_id {item.custom_id!r} is a duplicate of another request."
            fail("duplicate_custom_id", message, number, "custom_id")
        seen.add(item.custom_id)
        if item.method != "POST":
            fail("invalid_method", "Only the POST method is supported.", number, "method")
        if item.url != endpoint:
            message = f"The url {item.url!r} does not match the batch endpoint {endpoint!r}."
            fail("url_mismatch", message, number, "url")
        model = item.body.get("model")
        if not isinstance(model, str) or not model:
            fail("missing_required_parameter", "The body has no 'model'.", number, "body.model")
        elif result.model is None:
            result.model = model
        elif model != result.model:
            message = f"Model {model!r} differs from {result.model!r}: one model per batch."
            fail("model_mismatch", message, number, "body.model")
        raw_input = item.body.get("input")
        inputs += len(raw_input) if isinstance(raw_input, list) else 1
    if result.total == 0:
        result.errors.append(BatchError(code="empty_file", message="The input file is empty."))
    if result.total > MAX_REQUESTS:
        message = f"The batch has {result.total} requests; the limit is {MAX_REQUESTS}."
        result.errors.insert(0, BatchError(code="too_many_tasks", message=message))
    elif endpoint == "/v1/embeddings" and inputs > MAX_REQUESTS:
        message = f"The batch has {inputs} embedding inputs; the limit is {MAX_REQUESTS}."
        result.errors.insert(0, BatchError(code="too_many_tasks", message=message))
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
    validation: Validation,
    processed: int,
    ending: str,
    created: int,
    plan: FaultPlan,
) -> Results:
    """Write the result files for the first `processed` requests; the rest are unrun.

    `ending` is the terminal status (`completed`, `expired` or `cancelled`).
    """
    order = None
    if plan.hit("shuffle", batch_id):
        order = random.Random(int(plan.roll("shuffle", batch_id, "order") * 2**32))
    output, errors = _Sink(output_path, order), _Sink(error_path, order)
    failing = set(validation.failing)
    usage = BatchUsage()
    decoder = msgspec.json.Decoder(InputLine)
    counts = RequestCounts(total=validation.total)
    for index, (_, raw) in enumerate(_lines(input_path)):
        item = decoder.decode(raw)
        line: dict[str, Any] = {
            "id": derived_id("batch_req_", batch_id, index),
            "custom_id": item.custom_id,
            "response": None,
            "error": None,
        }
        request_id = derived_id("req_", batch_id, index)
        if index >= processed:
            code, message = _UNRUN[ending]
            line["error"] = {"code": code, "message": message}
            errors.write(msgspec.json.encode(line))
            counts.failed += 1
            continue
        status, body = _answer(item, index, batch_id, created, failing, plan)
        line["response"] = {"status_code": status, "request_id": request_id, "body": body}
        encoded = msgspec.json.encode(line)
        if status != 200:
            errors.write(encoded)
            counts.failed += 1
            continue
        counts.completed += 1
        _add_usage(usage, body)
        if plan.hit("malformed", batch_id, index):
            encoded = _malform(encoded, plan.pick("malformed", 4, batch_id, index))
        output.write(encoded)
        if plan.hit("duplicate", batch_id, index):
            output.write(encoded)
        if plan.hit("unknown_id", batch_id, index):
            line["custom_id"] = derived_id("unknown-", batch_id, index)
            output.write(msgspec.json.encode(line))
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    return Results(output=output.close(), errors=errors.close(), counts=counts, usage=usage)


def _answer(
    item: InputLine,
    index: int,
    batch_id: str,
    created: int,
    failing: set[int],
    plan: FaultPlan,
) -> tuple[int, Any]:
    if index in failing:
        status, kind, code, message = _LINE_ERRORS[plan.pick("line_error", 3, batch_id, index)]
        error = {"message": message, "type": kind, "param": None, "code": code}
        return status, {"error": error}
    completion_id = derived_id("chatcmpl-", batch_id, index)
    try:
        return 200, respond(
            item.url, item.body, completion_id=completion_id, created=created, plan=plan
        )
    except ApiError as exc:
        return exc.status, msgspec.to_builtins(exc.body())


def _add_usage(usage: BatchUsage, body: Any) -> None:
    tokens = body.get("usage") or {}
    usage.input_tokens += int(tokens.get("prompt_tokens", 0))
    usage.output_tokens += int(tokens.get("completion_tokens", 0))
    details = tokens.get("prompt_tokens_details") or {}
    usage.input_tokens_details.cached_tokens += int(details.get("cached_tokens", 0))
