"""The official `openai` SDK works against the emulator unchanged."""

import json
from collections.abc import AsyncIterator

import openai
import pydantic
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Is the sky blue?"}]
SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "confidence", "reasons"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "v", "schema": SCHEMA, "strict": True},
}


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=100)) as emu:
        yield emu


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=emulator.base_url, api_key="sk-test") as sdk:
        yield sdk


async def test_files_and_batches_round_trip(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    import asyncio

    lines = [
        {
            "custom_id": f"r-{i}",
            "method": "POST",
            "url": CHAT,
            "body": {"model": "gpt-4o-mini", "messages": MESSAGES},
        }
        for i in range(200)
    ]
    lines[7]["body"] = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "response_format": RESPONSE_FORMAT,
    }
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = await client.files.create(file=("requests.jsonl", payload), purpose="batch")
    assert uploaded.id.startswith("file-")
    assert uploaded.bytes == len(payload)
    assert (await client.files.content(uploaded.id)).content == payload
    assert [f.id async for f in client.files.list(purpose="batch")] == [uploaded.id]
    assert (await client.files.retrieve(uploaded.id)).filename == "requests.jsonl"

    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h", metadata={"run": "1"}
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        await asyncio.sleep(0.05)
        batch = await client.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert loop.time() - started < 3.0
    assert [b.id async for b in client.batches.list()] == [batch.id]
    assert batch.output_file_id is not None
    content = await client.files.content(batch.output_file_id)
    results = {r["custom_id"]: r for r in map(json.loads, content.text.splitlines())}
    assert len(results) == 200
    structured = results["r-7"]["response"]["body"]["choices"][0]["message"]["content"]
    assert set(json.loads(structured)) == {"verdict", "confidence", "reasons"}

    realtime = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    batch_body = results["r-0"]["response"]["body"]
    assert realtime.choices[0].message.content == batch_body["choices"][0]["message"]["content"]
    assert realtime.usage is not None
    assert realtime.usage.prompt_tokens == batch_body["usage"]["prompt_tokens"]


async def test_cancel_through_the_sdk(client: openai.AsyncOpenAI) -> None:
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": CHAT,
        "body": {"model": "m", "messages": MESSAGES},
    }
    uploaded = await client.files.create(
        file=("in.jsonl", json.dumps(line).encode()), purpose="batch"
    )
    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
    )
    assert (await client.batches.cancel(batch.id)).status == "cancelling"
    assert (await client.batches.cancel(batch.id)).status == "cancelling"


async def test_chat_text_and_json_schema(client: openai.AsyncOpenAI) -> None:
    text = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert text.id.startswith("chatcmpl-")
    assert text.object == "chat.completion"
    assert "Is the sky blue?" in (text.choices[0].message.content or "")
    assert text.usage is not None
    assert text.usage.total_tokens == text.usage.prompt_tokens + text.usage.completion_tokens
    assert text.usage.prompt_tokens_details is not None
    assert text.usage.prompt_tokens_details.cached_tokens == 0

    structured = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
    )
    answer = json.loads(structured.choices[0].message.content or "")
    assert answer["verdict"] in ("yes", "no")
    assert 0 <= answer["confidence"] <= 1
    assert all(isinstance(r, str) for r in answer["reasons"])
    again = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=RESPONSE_FORMAT,  # type: ignore[arg-type]
    )
    assert again.choices[0].message.content == structured.choices[0].message.content


class Step(pydantic.BaseModel):
    explanation: str
    score: int = pydantic.Field(ge=1, le=5)


class Plan(pydantic.BaseModel):
    steps: list[Step]
    final: bool


async def test_sdk_parse_with_a_pydantic_model(client: openai.AsyncOpenAI) -> None:
    parsed = await client.chat.completions.parse(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=Plan,  # type: ignore[arg-type]
    )
    plan = parsed.choices[0].message.parsed
    assert isinstance(plan, Plan)
    assert all(1 <= step.score <= 5 for step in plan.steps)


async def test_embeddings_base64_default_equals_float(client: openai.AsyncOpenAI) -> None:
    default = await client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"]
    )
    floats = await client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float"
    )
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert len(default.data[0].embedding) == 1536
    assert default.data[0].embedding != default.data[1].embedding
    assert default.usage.prompt_tokens > 0
    short = await client.embeddings.create(
        model="text-embedding-3-large", input="alpha", dimensions=64
    )
    assert len(short.data[0].embedding) == 64
    large = await client.embeddings.create(model="text-embedding-3-large", input="alpha")
    assert len(large.data[0].embedding) == 3072
    with pytest.raises(openai.BadRequestError):
        await client.embeddings.create(model="text-embedding-3-small", input="")
