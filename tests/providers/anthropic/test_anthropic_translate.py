"""Neutral requests to Messages params, answers back to results, batch objects to states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.model import BatchStatus, LlmRequest, Message, Mode, RequestKind, Usage
from batchery_anthropic import AnthropicOptions, AnthropicProvider
from batchery_anthropic._options import DEFAULT_MAX_TOKENS
from batchery_anthropic._translate import (
    DEFAULT_MODEL,
    OBJECT_TOOL,
    VALUE_TOOL,
    batch_item,
    batch_state,
    content_problem,
    message_result,
    params,
)
from batchery_anthropic._wire import BatchView, MessageView

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def chat(*messages: tuple[str, str], **fields: Any) -> LlmRequest:
    return LlmRequest(custom_id="q", messages=tuple(Message(r, c) for r, c in messages), **fields)


def body(request: LlmRequest, max_tokens: int = DEFAULT_MAX_TOKENS) -> Any:
    return msgspec.json.decode(msgspec.json.encode(params(request, default_max_tokens=max_tokens)))


def test_system_messages_go_to_system_and_max_tokens_is_always_set() -> None:
    request = chat(("system", "Be brief."), ("user", "hi"), ("developer", "No emoji."))
    assert body(request) == {
        "model": DEFAULT_MODEL,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": "hi"}],
        "system": "Be brief.\n\nNo emoji.",
    }
    tuned = chat(("user", "hi"), ("assistant", "hello"), ("user", "?"), model="m", max_tokens=9)
    tuned = msgspec.structs.replace(tuned, temperature=0.2)
    assert body(tuned) == {
        "model": "m",
        "max_tokens": 9,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "?"},
        ],
        "temperature": 0.2,
    }
    assert body(chat(("user", "hi")), max_tokens=77)["max_tokens"] == 77


def test_an_object_schema_becomes_a_forced_tool() -> None:
    sent = body(chat(("user", "hi"), response_schema=SCHEMA))
    assert sent["tool_choice"] == {"type": "tool", "name": OBJECT_TOOL}
    [tool] = sent["tools"]
    assert tool["name"] == OBJECT_TOOL
    assert tool["input_schema"] == SCHEMA
    assert tool["description"]


def test_other_schemas_are_wrapped_with_their_definitions_hoisted() -> None:
    schema = {
        "type": "array",
        "items": {"$ref": "#/$defs/Item"},
        "$defs": {"Item": {"type": "string"}},
    }
    sent = body(chat(("user", "hi"), response_schema=schema))
    [tool] = sent["tools"]
    assert tool["name"] == VALUE_TOOL
    assert sent["tool_choice"]["name"] == VALUE_TOOL
    assert tool["input_schema"] == {
        "type": "object",
        "properties": {"value": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["value"],
        "additionalProperties": False,
        "$defs": {"Item": {"type": "string"}},
    }


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x"), "chat requests only"),
        (chat(), "at least one message"),
        (chat(("system", "s")), "a user message"),
        (chat(("tool", "x")), "role 'tool'"),
        (chat(("user", "x"), temperature=1.5), "between 0 and 1"),
        (chat(("user", "x"), max_tokens=0), "at least 1"),
    ],
)
def test_content_rules(request_: LlmRequest, problem: str) -> None:
    found = content_problem(request_)
    assert found is not None
    assert problem in found


def message(*blocks: dict[str, Any], stop: str = "end_turn", **usage: int) -> MessageView:
    raw = {"model": "claude-x", "content": list(blocks), "stop_reason": stop, "usage": usage}
    return msgspec.json.decode(msgspec.json.encode(raw), type=MessageView)


def test_text_answers_join_text_blocks_and_normalise_usage() -> None:
    view = message(
        {"type": "thinking", "thinking": "hmm"},
        {"type": "text", "text": "Hello, "},
        {"type": "text", "text": "world"},
        input_tokens=10,
        output_tokens=4,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=1000,
    )
    result = message_result("q", view, Mode.REALTIME)
    assert result is not None
    assert result.ok
    assert result.text == "Hello, world"
    assert result.model == "claude-x"
    assert result.usage == Usage(input_tokens=1110, output_tokens=4, cached_tokens=1000)


def test_tool_answers_give_the_json_as_text() -> None:
    tool = {"type": "tool_use", "id": "t", "name": OBJECT_TOOL, "input": {"ok": True, "n": 1}}
    result = message_result("q", message(tool, stop="tool_use"), Mode.BATCH)
    assert result is not None
    assert result.text == '{"ok":true,"n":1}'
    wrapped = {"type": "tool_use", "id": "t", "name": VALUE_TOOL, "input": {"value": [1, "a"]}}
    unwrapped = message_result("q", message(wrapped, stop="tool_use"), Mode.BATCH)
    assert unwrapped is not None
    assert unwrapped.text == '[1,"a"]'


def test_answers_without_content_are_explicit_failures() -> None:
    refusal = message_result(
        "q", message({"type": "text", "text": "No."}, stop="refusal"), Mode.BATCH
    )
    assert refusal is not None
    assert refusal.error is not None
    assert (refusal.ok, refusal.error.code, refusal.error.retryable) == (False, "refusal", False)
    cut = {"type": "tool_use", "id": "t", "name": OBJECT_TOOL, "input": {}}
    truncated = message_result("q", message(cut, stop="max_tokens"), Mode.BATCH)
    assert truncated is not None
    assert truncated.error is not None
    assert truncated.error.code == "max_tokens"
    empty = message_result("q", message(stop="end_turn"), Mode.BATCH)
    assert empty is not None
    assert empty.error is not None
    assert empty.error.code == "end_turn"
    no_value = {"type": "tool_use", "id": "t", "name": VALUE_TOOL, "input": {"other": 1}}
    assert message_result("q", message(no_value, stop="tool_use"), Mode.BATCH) is None


NOW = "2026-08-20T10:00:00.123456Z"


def view(status: str, **fields: Any) -> BatchView:
    raw = {
        "id": "msgbatch_1",
        "type": "message_batch",
        "processing_status": status,
        "created_at": NOW,
        "expires_at": "2026-08-21T10:00:00.123456Z",
        "request_counts": {
            "processing": 0,
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
    }
    raw.update(fields)
    return msgspec.json.decode(msgspec.json.encode(raw), type=BatchView)


@pytest.mark.parametrize(
    ("status", "fields", "expected"),
    [
        ("in_progress", {}, BatchStatus.IN_PROGRESS),
        ("canceling", {"cancel_initiated_at": NOW}, BatchStatus.CANCELLING),
        ("ended", {}, BatchStatus.COMPLETED),
        ("ended", {"cancel_initiated_at": NOW}, BatchStatus.CANCELLED),
        ("ended", {"request_counts": {"succeeded": 3, "expired": 2}}, BatchStatus.EXPIRED),
        (
            "ended",
            {"cancel_initiated_at": NOW, "request_counts": {"expired": 1, "canceled": 1}},
            BatchStatus.CANCELLED,
        ),
        ("some_new_status", {}, BatchStatus.IN_PROGRESS),
    ],
)
def test_status_mapping(status: str, fields: dict[str, Any], expected: BatchStatus) -> None:
    assert batch_state(view(status, **fields)).status is expected


def test_state_counts_and_times() -> None:
    counts = {"processing": 0, "succeeded": 5, "errored": 1, "canceled": 2, "expired": 3}
    state = batch_state(view("ended", request_counts=counts), tag="t")
    assert (state.total, state.completed, state.failed, state.tag) == (11, 5, 6, "t")
    assert state.created_at == datetime(2026, 8, 20, 10, 0, 0, 123456, tzinfo=UTC).timestamp()
    running = batch_state(view("in_progress", request_counts={"processing": 7}))
    assert (running.total, running.completed, running.failed) == (7, 0, 0)


async def test_batch_size_of_is_the_encoded_element_and_its_comma() -> None:
    options = AnthropicOptions(default_max_tokens=123)
    async with aiohttp.ClientSession() as session:
        provider = AnthropicProvider(options, session)
        request = chat(("user", "héllo"), response_schema=SCHEMA)
        request = msgspec.structs.replace(request, custom_id="with space")
        element = msgspec.json.encode(batch_item(request, default_max_tokens=123))
        assert provider.batch_size_of(request) == len(element) + 1
        assert b'"custom_id":"_b64_' in element
        assert b'"max_tokens":123' in element
