"""Reading a batch's input and writing its result lines, in OpenAI's format (worker threads).

Validation codes follow what third parties report from OpenAI (`invalid_json_line`,
`duplicate_custom_id`, `url_mismatch`, `model_mismatch`, `empty_file`, `too_many_tasks`); OpenAI
does not document them. A line whose body the real API would refuse (checked against the
spec's request schema, as a realtime call is) does not fail the batch: it ends as an error line
with the 400 a realtime call gets, and is counted as failed from the moment it is run. Result
lines for requests a batch never ran (it expired or was
cancelled first) go to the error file as `batch_expired` / `batch_cancelled` errors, the way an
expired OpenAI batch reports them. The kit's writer adds the plan's line faults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import (
    BatchError,
    FaultPlan,
    Outcome,
    Render,
    Validation,
    derived_id,
    input_lines,
)
from batchery_openai_batch.emulator import UNRUN, decoded_lines, drawn, too_large

from batchery_openai.emulator._http import ApiError
from batchery_openai.emulator._responses import check_request, respond
from batchery_openai.emulator._wire import BatchUsage, InputLine

__all__ = ["MAX_INPUT_BYTES", "MAX_REQUESTS", "line_renderer", "validate_input"]

MAX_REQUESTS = 50_000
MAX_INPUT_BYTES = 200 * 1024 * 1024

_LINE_ERRORS = (
    (400, "invalid_request_error", None, "Invalid request: the emulator rejected this line."),
    (429, "rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached for requests."),
    (500, "server_error", None, "The server had an error while processing your request."),
)


def validate_input(path: Path, endpoint: str, batch_id: str, plan: FaultPlan) -> Validation:
    """Check every input line; any problem fails the whole batch, as OpenAI does."""
    result = Validation()
    if too_large(path, MAX_INPUT_BYTES, result):
        return result
    seen: set[str] = set()
    inputs = 0
    for number, item in decoded_lines(
        input_lines(path),
        msgspec.json.Decoder(InputLine),
        result,
        invalid="invalid_request",
        not_json="This line is not parseable as valid JSON.",
    ):
        if item.custom_id in seen:
            message = f"The custom_id {item.custom_id!r} is a duplicate of another request."
            result.fail("duplicate_custom_id", message, number, "custom_id")
        seen.add(item.custom_id)
        if item.method != "POST":
            result.fail("invalid_method", "Only the POST method is supported.", number, "method")
        if item.url != endpoint:
            message = f"The url {item.url!r} does not match the batch endpoint {endpoint!r}."
            result.fail("url_mismatch", message, number, "url")
        model = item.body.get("model")
        if not isinstance(model, str) or not model:
            result.fail(
                "missing_required_parameter", "The body has no 'model'.", number, "body.model"
            )
        elif result.model is None:
            result.model = model
        elif model != result.model:
            message = f"Model {model!r} differs from {result.model!r}: one model per batch."
            result.fail("model_mismatch", message, number, "body.model")
        raw_input = item.body.get("input")
        inputs += len(raw_input) if isinstance(raw_input, list) else 1
        if item.url == endpoint:
            try:
                check_request(endpoint, item.body)
            except ApiError:
                result.refused.append(result.total - 1)
    if result.total > MAX_REQUESTS:
        message = f"The batch has {result.total} requests; the limit is {MAX_REQUESTS}."
        result.errors.insert(0, BatchError(code="too_many_tasks", message=message))
    elif endpoint == "/v1/embeddings" and inputs > MAX_REQUESTS:
        message = f"The batch has {inputs} embedding inputs; the limit is {MAX_REQUESTS}."
        result.errors.insert(0, BatchError(code="too_many_tasks", message=message))
    return drawn(result, plan, batch_id)


def line_renderer(
    *,
    batch_id: str,
    validation: Validation,
    unrun: str,
    created: int,
    plan: FaultPlan,
    usage: BatchUsage,
) -> Render:
    """How each request's result line is written, adding every answer's tokens to `usage`;
    `unrun` says why a request never ran (`expired` or `cancelled`)."""
    decoder = msgspec.json.Decoder(InputLine)
    refused = set(validation.refused)

    def render(index: int, raw: bytes, outcome: Outcome) -> tuple[dict[str, Any], bool]:
        item = decoder.decode(raw)
        line: dict[str, Any] = {
            "id": derived_id("batch_req_", batch_id, index),
            "custom_id": item.custom_id,
            "response": None,
            "error": None,
        }
        if outcome == "unrun":
            code, message = UNRUN[unrun]
            line["error"] = {"code": code, "message": message}
            return line, False
        fail = outcome == "failed" and index not in refused
        status, body = _answer(item, index, batch_id, created, fail, plan)
        request_id = derived_id("req_", batch_id, index)
        line["response"] = {"status_code": status, "request_id": request_id, "body": body}
        if status == 200:
            _add_usage(usage, body)
        return line, status == 200

    return render


def _answer(
    item: InputLine, index: int, batch_id: str, created: int, fail: bool, plan: FaultPlan
) -> tuple[int, Any]:
    if fail:
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
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    details = tokens.get("prompt_tokens_details") or {}
    usage.input_tokens_details.cached_tokens += int(details.get("cached_tokens", 0))
