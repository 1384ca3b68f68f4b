"""The official `anthropic` SDK works against the emulator unchanged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Literal, cast

import anthropic
import pydantic
import pytest
from anthropic.types import MessageParam, OutputConfigParam
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request
from batchery.spi import EmulatorOptions
from batchery_anthropic.emulator import AnthropicEmulator

KEY = "sk-ant-api03-SDKtest0123456789"
MODEL = "claude-haiku-4-5"
MESSAGES: list[MessageParam] = [{"role": "user", "content": "Is the sky blue?"}]
SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "confidence", "reasons"],
    "additionalProperties": False,
}


@pytest.fixture
async def emulator() -> AsyncIterator[AnthropicEmulator]:
    async with AnthropicEmulator(EmulatorOptions(time_scale=500), api_key=KEY) as emu:
        yield emu


@pytest.fixture
async def client(emulator: AnthropicEmulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=emulator.base_url, api_key=KEY) as sdk:
        yield sdk


def _request(custom_id: str, **params: object) -> Request:
    """A batch request; extra params (some deliberately invalid) go in untyped."""
    body: dict[str, object] = {"model": MODEL, "max_tokens": 256, "messages": MESSAGES}
    body.update(params)
    return cast(Request, {"custom_id": custom_id, "params": body})


async def _until_ended(client: anthropic.AsyncAnthropic, batch_id: str) -> MessageBatch:
    async with asyncio.timeout(5):
        while True:
            batch = await client.messages.batches.retrieve(batch_id)
            if batch.processing_status == "ended":
                return batch
            await asyncio.sleep(0.02)


async def test_batch_round_trip(client: anthropic.AsyncAnthropic) -> None:
    tool = {"name": "verdict", "description": "answer", "input_schema": SCHEMA}
    requests = [_request(f"r-{i}") for i in range(30)]
    requests[7] = _request("r-7", tools=[tool], tool_choice={"type": "tool", "name": "verdict"})
    requests[8] = _request("r-8", max_tokens=0)
    batch = await client.messages.batches.create(requests=requests)
    assert batch.id.startswith("msgbatch_")
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 30
    assert batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600

    batch = await _until_ended(client, batch.id)
    counts = batch.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 29, 1)
    assert batch.ended_at is not None
    assert batch.results_url is not None
    assert [b.id async for b in client.messages.batches.list()] == [batch.id]

    results = {r.custom_id: r async for r in await client.messages.batches.results(batch.id)}
    assert len(results) == 30
    failed = results["r-8"].result
    assert failed.type == "errored"
    assert failed.error.error.type == "invalid_request_error"
    used = results["r-7"].result
    assert used.type == "succeeded"
    block = used.message.content[0]
    assert block.type == "tool_use"
    assert set(block.input) == {"verdict", "confidence", "reasons"}
    plain = results["r-0"].result
    assert plain.type == "succeeded"
    assert plain.message.usage.service_tier == "batch"

    realtime = await client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)
    assert realtime.id.startswith("msg_")
    assert realtime.content == plain.message.content
    assert realtime.usage.input_tokens == plain.message.usage.input_tokens
    assert realtime.usage.service_tier == "standard"


async def test_list_pages_and_cancel() -> None:
    async with (
        AnthropicEmulator(EmulatorOptions(time_scale=1)) as emu,
        anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=KEY) as client,
    ):
        await _list_and_cancel(client)


async def _list_and_cancel(client: anthropic.AsyncAnthropic) -> None:
    ids = [(await client.messages.batches.create(requests=[_request("a")])).id for _ in range(5)]
    listed = [b.id async for b in client.messages.batches.list(limit=2)]
    assert listed == ids[::-1]
    page = await client.messages.batches.list(limit=2, after_id=ids[3])
    assert [b.id for b in page.data] == [ids[2], ids[1]]
    assert page.has_more
    newer = await client.messages.batches.list(limit=2, before_id=ids[1])
    assert [b.id for b in newer.data] == [ids[3], ids[2]]

    cancelled = await client.messages.batches.cancel(ids[0])
    assert cancelled.processing_status == "canceling"
    assert cancelled.cancel_initiated_at is not None
    assert (await client.messages.batches.cancel(ids[0])).processing_status == "canceling"


async def test_messages_text_and_structured_output(client: anthropic.AsyncAnthropic) -> None:
    text = await client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)
    assert text.type == "message"
    assert text.role == "assistant"
    assert text.stop_reason == "end_turn"
    assert text.content[0].type == "text"
    assert "Is the sky blue?" in text.content[0].text

    config: OutputConfigParam = {"format": {"type": "json_schema", "schema": SCHEMA}}
    structured = await client.messages.create(
        model=MODEL, max_tokens=256, messages=MESSAGES, output_config=config
    )
    block = structured.content[0]
    assert block.type == "text"
    answer = json.loads(block.text)
    assert answer["verdict"] in ("yes", "no")
    assert 0 <= answer["confidence"] <= 1

    short = await client.messages.create(model=MODEL, max_tokens=2, messages=MESSAGES)
    assert short.stop_reason == "max_tokens"


class Step(pydantic.BaseModel):
    explanation: str
    score: Literal[1, 2, 3, 4, 5]


class Plan(pydantic.BaseModel):
    steps: list[Step]
    final: bool


async def test_parse_with_a_pydantic_model(client: anthropic.AsyncAnthropic) -> None:
    parsed = await client.messages.parse(
        model=MODEL,
        max_tokens=512,
        messages=MESSAGES,
        output_format=Plan,
    )
    plan = parsed.parsed_output
    assert isinstance(plan, Plan)
    assert all(1 <= step.score <= 5 for step in plan.steps)


async def test_errors_reach_the_sdk_as_its_own_exceptions(emulator: AnthropicEmulator) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=emulator.base_url, api_key="sk-ant-wrong", max_retries=0
    ) as wrong:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            await wrong.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    assert denied.value.request_id is not None
    assert denied.value.request_id.startswith("req_")
    async with anthropic.AsyncAnthropic(
        base_url=emulator.base_url, api_key=KEY, max_retries=0
    ) as sdk:
        with pytest.raises(anthropic.BadRequestError) as bad:
            await sdk.messages.create(model=MODEL, max_tokens=5, messages=[])
        assert "messages" in str(bad.value)
        with pytest.raises(anthropic.NotFoundError):
            await sdk.messages.batches.retrieve("msgbatch_01unknown")


async def test_the_sdk_retries_overload_and_rate_limits() -> None:
    options = EmulatorOptions(faults="http_529=0.5,http_429=0.3,retry_after=0.01", seed=3)
    async with (
        AnthropicEmulator(options) as emu,
        anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=KEY, max_retries=8) as sdk,
    ):
        for _ in range(5):
            answer = await sdk.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
            assert answer.content
    async with (
        AnthropicEmulator(EmulatorOptions(faults="http_529")) as emu,
        anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=KEY, max_retries=0) as sdk,
    ):
        with pytest.raises(anthropic.OverloadedError):
            await sdk.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
