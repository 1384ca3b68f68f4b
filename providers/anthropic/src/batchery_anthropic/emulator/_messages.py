"""Message bodies for a Messages request, identical in a batch and in realtime.

The answer is seeded by the parts of the body that shape it (model, system, messages, tools,
tool choice, output format), so the same body gets the same content on either path. A forced
tool call (`tool_choice` of type `tool`, or `any`) answers with a `tool_use` block whose input
is valid for that tool's schema; `output_config.format` of type `json_schema` answers with that
JSON as text; anything else gets a short text reply, cut at `max_tokens` with `stop_reason:
"max_tokens"`. Token counts are the kit's estimate; a system prompt of `CACHE_MIN_TOKENS` or
more is reported as read from the prompt cache, in 128-token steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from batchery.emulator import (
    content_text,
    estimate_tokens,
    request_seed,
    schema_answer,
    text_answer,
)

from batchery_anthropic.emulator._http import ApiError, derived_id

__all__ = ["CACHE_MIN_TOKENS", "respond"]

CACHE_MIN_TOKENS = 1024

_ROLES = ("user", "assistant")
_CHOICES = ("auto", "any", "tool", "none")


def _invalid(message: str) -> ApiError:
    return ApiError(400, message)


def _integer(params: Mapping[str, Any], key: str) -> int:
    value = params.get(key)
    if value is None:
        raise _invalid(f"{key}: Field required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"{key}: Input should be a valid integer")
    if value < 1:
        raise _invalid(f"{key}: Input should be greater than or equal to 1")
    return value


def _messages(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = params.get("messages")
    if not isinstance(messages, list):
        raise _invalid("messages: Field required")
    if not messages:
        raise _invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise _invalid(f"messages.{index}: Input should be a valid dictionary")
        if message.get("role") not in _ROLES:
            raise _invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), str | list):
            raise _invalid(f"messages.{index}.content: Input should be a string or a list")
    return messages


def _system(params: Mapping[str, Any]) -> str:
    system = params.get("system")
    if system is None:
        return ""
    if not isinstance(system, str | list):
        raise _invalid("system: Input should be a string or a list of text blocks")
    return content_text(system)


def _check_sampling(params: Mapping[str, Any], *, batch: bool) -> None:
    temperature = params.get("temperature")
    if temperature is not None:
        if not isinstance(temperature, int | float) or isinstance(temperature, bool):
            raise _invalid("temperature: Input should be a valid number")
        if not 0.0 <= temperature <= 1.0:
            raise _invalid("temperature: Input should be between 0 and 1")
    if params.get("stream"):
        where = "in a batch" if batch else "by the emulator"
        raise _invalid(f"stream: streaming is not supported {where}")


def _forced_tool(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The tool the model must call, or None when it may answer in text."""
    tools = params.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list")
    named: dict[str, Mapping[str, Any]] = {}
    for index, tool in enumerate(tools or []):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise _invalid(f"tools.{index}.name: Field required")
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise _invalid(f"tools.{index}.input_schema.type: Input should be 'object'")
        named[tool["name"]] = tool
    choice = params.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind not in _CHOICES:
        raise _invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind in ("auto", "none"):
        return None
    if not named:
        raise _invalid(f"tool_choice: type {kind!r} needs at least one tool in 'tools'")
    if kind == "any":
        return next(iter(named.values()))
    name = choice.get("name")
    if name not in named:
        raise _invalid(f"tool_choice.name: no tool named {str(name)[:64]!r} in 'tools'")
    return named[name]


def _output_schema(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    config = params.get("output_config")
    if config is None:
        return None
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        raise _invalid("output_config.format.type: Input should be 'json_schema'")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise _invalid("output_config.format.schema: Field required")
    return schema


def _schema_value(schema: Mapping[str, Any], seed: int) -> Any:
    try:
        return schema_answer(schema, seed)
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid(f"the schema cannot be used: {exc}") from None


def respond(params: Any, *, message_id: str, service_tier: str, batch: bool) -> dict[str, Any]:
    """The `Message` for `params`; an invalid body raises `ApiError`, as Anthropic answers 400."""
    if not isinstance(params, Mapping):
        raise _invalid("params: Input should be a valid dictionary")
    model = params.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("model: Field required")
    limit = _integer(params, "max_tokens")
    messages = _messages(params)
    system = _system(params)
    _check_sampling(params, batch=batch)
    tool = _forced_tool(params)
    schema = _output_schema(params)
    seed = request_seed(
        "messages",
        model,
        params.get("system"),
        messages,
        params.get("tools"),
        params.get("tool_choice"),
        schema,
    )
    content: list[dict[str, Any]]
    if tool is not None:
        answer = _schema_value(tool["input_schema"], seed)
        block_id = derived_id("toolu_", seed)
        content = [{"type": "tool_use", "id": block_id, "name": tool["name"], "input": answer}]
        output, stop = estimate_tokens(msgspec.json.encode(answer).decode()), "tool_use"
    elif schema is not None:
        text = msgspec.json.encode(_schema_value(schema, seed)).decode()
        content = [{"type": "text", "text": text}]
        output, stop = estimate_tokens(text), "end_turn"
    else:
        prompt = next(
            (content_text(m["content"]) for m in reversed(messages) if m["role"] == "user"), ""
        )
        text, stop = text_answer(prompt, seed), "end_turn"
        if estimate_tokens(text) > limit:
            text, stop = text[: limit * 4], "max_tokens"
        content = [{"type": "text", "text": text}]
        output = estimate_tokens(text)
    system_tokens = estimate_tokens(system)
    prompt_tokens = (
        3
        + system_tokens
        + sum(4 + estimate_tokens(content_text(m["content"])) for m in messages)
        + (estimate_tokens(msgspec.json.encode(params["tools"]).decode()) if tool else 0)
    )
    cached = (system_tokens // 128) * 128 if system_tokens >= CACHE_MIN_TOKENS else 0
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt_tokens - cached,
            "output_tokens": output,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
            "service_tier": service_tier,
        },
    }
