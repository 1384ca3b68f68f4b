"""Chat completion and embedding bodies for a request body, identical in batch and realtime.

Answers are seeded by the parts of the body that shape an answer (model, messages, response
format; model and input for embeddings), so the same body gets the same content on either path.
Token counts are the kit's estimate, about four characters a token. With a fault plan, JSON
answers can come back damaged the way models damage them (fenced, wrapped in prose, cut off),
drawn from the same seed, so a request is damaged identically on either path.

`check_request` is every refusal in one place, run before any answer is made: the spec's own
request schema, then what the emulator adds (it does not stream; a named schema is needed for
`json_schema`; a fixed-size model takes no `dimensions`). A batch checks each line with it while
validating, so the lines that will end as errors are known, and counted, from the start.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

import msgspec
from batchery.emulator import (
    FaultPlan,
    content_text,
    embedding_vector,
    estimate_tokens,
    request_seed,
    schema_answer,
    text_answer,
)

from batchery_openai.emulator._http import ApiError
from batchery_openai.emulator._schemas import check_body

__all__ = ["CACHE_MIN_TOKENS", "check_request", "respond"]

CACHE_MIN_TOKENS = 1024
"""Prompts at least this long report their system messages as cached, in 128-token steps."""

_DIMENSIONS = {"text-embedding-3-large": 3072}
_DEFAULT_DIMENSIONS = 1536
_FIXED_DIMENSIONS = frozenset({"text-embedding-ada-002"})
_MAX_INPUTS = 2048

_PROSE = ("Here is the JSON you asked for:\n", "\nLet me know if you need anything else.")


def respond(
    url: str,
    body: Mapping[str, Any],
    *,
    completion_id: str,
    created: int,
    plan: FaultPlan | None = None,
) -> Any:
    """The 200 body for `body` sent to `url` (`/v1/...`); an invalid body raises `ApiError`."""
    check_request(url, body)
    if url.endswith("/chat/completions"):
        return _chat_completion(body, completion_id=completion_id, created=created, plan=plan)
    return _embeddings(body)


def check_request(url: str, body: Mapping[str, Any]) -> None:
    """Raise the 400 the real API answers for `body` sent to `url`; silent when it is valid."""
    model = _model_of(body)
    check_body(url, body)
    if url.endswith("/chat/completions"):
        if body.get("stream"):
            raise ApiError(400, "The emulator does not stream; send stream=false.", param="stream")
        _limit_of(body)
        _schema_of(body.get("response_format"))
    else:
        _inputs_of(body.get("input"))
        _dimensions_of(model, body.get("dimensions"))


def _model_of(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    return model


def _whole(value: Any) -> int | None:
    """`value` as an integer when JSON Schema calls it one (`5` or `5.0`), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _limit_of(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        limit = _whole(value)
        if limit is None or limit < 1:
            raise ApiError(400, f"Invalid '{key}': integer above 0 expected.", param=key)
        return limit
    return None


def _chat_completion(
    body: Mapping[str, Any], *, completion_id: str, created: int, plan: FaultPlan | None = None
) -> Any:
    """A `chat.completion` body: JSON valid for a `json_schema` response format, else text.

    `max_completion_tokens` (or `max_tokens`) truncates text answers with `finish_reason:
    "length"`. JSON answers are never truncated by the limit, so they parse, unless `plan`
    holds a content fault that damages them.
    """
    model = _model_of(body)
    messages: list[Mapping[str, Any]] = body["messages"]
    n = _whole(body.get("n")) or 1
    limit = _limit_of(body)
    schema = _schema_of(body.get("response_format"))
    prompt = next(
        (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        content_text(messages[-1].get("content")),
    )
    seed = request_seed("chat", model, messages, body.get("response_format"))
    choices: list[dict[str, Any]] = []
    completion_tokens = 0
    for index in range(n):
        finish = "stop"
        if schema is not None:
            content = msgspec.json.encode(schema_answer(schema, seed + index)).decode()
            if plan is not None:
                content, finish = _damaged(content, plan, seed + index)
        else:
            content = text_answer(prompt, seed + index)
            if limit is not None and estimate_tokens(content) > limit:
                content, finish = content[: limit * 4], "length"
        completion_tokens += estimate_tokens(content)
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        )
    prompt_tokens = 3 + sum(4 + estimate_tokens(content_text(m.get("content"))) for m in messages)
    system = sum(
        estimate_tokens(content_text(m.get("content")))
        for m in messages
        if m.get("role") in ("system", "developer")
    )
    cached = (system // 128) * 128 if prompt_tokens >= CACHE_MIN_TOKENS else 0
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_emulator",
    }


def _damaged(content: str, plan: FaultPlan, key: int) -> tuple[str, str]:
    """The JSON answer `content` as the plan's content faults leave it, and its finish reason."""
    finish = "stop"
    if plan.hit("truncated_json", key):
        cut = 1 + int(plan.roll("truncated_json", key, "at") * (len(content) - 1))
        content, finish = content[:cut], "length"
    if plan.hit("fenced_json", key):
        content = "```json\n" + content + ("\n```" if finish == "stop" else "")
    if plan.hit("prose_json", key):
        content = _PROSE[0] + content + (_PROSE[1] if finish == "stop" else "")
    return content, finish


def _schema_of(response_format: Any) -> Mapping[str, Any] | None:
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise ApiError(
                400,
                "Missing required parameter: 'response_format.json_schema.name'.",
                param="response_format.json_schema.name",
                code="missing_required_parameter",
            )
        schema = spec.get("schema")
        return schema if isinstance(schema, Mapping) else {"type": "object"}
    raise ApiError(
        400,
        "Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
        param="response_format.type",
    )


def _inputs_of(raw: Any) -> list[str | list[int]]:
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        items = [raw]
    elif isinstance(raw, list) and raw:
        items = raw
    else:
        raise ApiError(400, "Invalid 'input': a string or a non-empty array.", param="input")
    if len(items) > _MAX_INPUTS:
        raise ApiError(400, f"Invalid 'input': at most {_MAX_INPUTS} items.", param="input")
    for item in items:
        valid_tokens = isinstance(item, list) and item and all(isinstance(t, int) for t in item)
        if not valid_tokens and not (isinstance(item, str) and item):
            raise ApiError(
                400, "Invalid 'input': empty strings and bad token arrays.", param="input"
            )
    return items


def _dimensions_of(model: str, dimensions: Any) -> int:
    """The vector size: the model's own, or a smaller one asked for, as the real API allows."""
    native = _DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)
    if dimensions is None:
        return native
    if model in _FIXED_DIMENSIONS:
        raise ApiError(400, f"This model does not support specifying dimensions: {model}.")
    size = _whole(dimensions)
    if size is None or size < 1:
        raise ApiError(400, "Invalid 'dimensions': integer above 0 expected.", param="dimensions")
    if size > native:
        message = f"Invalid 'dimensions': {size} is above {model}'s {native} dimensions."
        raise ApiError(400, message, param="dimensions")
    return size


def _embeddings(body: Mapping[str, Any]) -> Any:
    """An embeddings `list`: one unit vector per input, as float arrays or base64 float32."""
    model = _model_of(body)
    inputs = _inputs_of(body.get("input"))
    encoding = body.get("encoding_format") or "float"
    dimensions = _dimensions_of(model, body.get("dimensions"))
    data: list[dict[str, Any]] = []
    tokens = 0
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            key, tokens = item, tokens + estimate_tokens(item)
        else:
            key, tokens = "tokens:" + ",".join(map(str, item)), tokens + len(item)
        vector = embedding_vector(f"{model}\x1f{key}", dimensions)
        encoded: Any = vector
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
