"""The official `google-genai` SDK works against the emulator unchanged.

The SDK's synchronous client blocks, so its calls run in a worker thread while the emulator
serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pydantic
import pytest
from batchery.spi import EmulatorOptions
from batchery_gemini.emulator import PENDING_S, REQUESTS_PER_S, GeminiEmulator
from google import genai
from google.genai import errors, types

KEY = "sdk-test-key"
MODEL = "gemini-2.5-flash"
T = TypeVar("T")


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator(EmulatorOptions(seed=5), api_key=KEY) as emu:
        yield emu


@pytest.fixture
def client(emulator: GeminiEmulator) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emulator.root_url))


async def run(call: Callable[..., T], /, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, **kwargs)


class Verdict(pydantic.BaseModel):
    answer: str
    confidence: float = pydantic.Field(ge=0, le=1)


async def test_generate_content_text_and_structured(client: genai.Client) -> None:
    text = await run(client.models.generate_content, model=MODEL, contents="Is water wet?")
    assert "Is water wet?" in (text.text or "")
    assert text.usage_metadata is not None
    usage = text.usage_metadata
    assert usage.total_token_count == (usage.prompt_token_count or 0) + (
        usage.candidates_token_count or 0
    )
    assert text.candidates is not None
    assert text.candidates[0].finish_reason == types.FinishReason.STOP
    structured = await run(
        client.models.generate_content,
        model=MODEL,
        contents="Is water wet?",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=Verdict
        ),
    )
    assert isinstance(structured.parsed, Verdict)
    json_schema = await run(
        client.models.generate_content,
        model=MODEL,
        contents="Is water wet?",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_json_schema=Verdict.model_json_schema(),
            system_instruction="Answer briefly.",
            max_output_tokens=100,
            temperature=0.0,
        ),
    )
    assert 0 <= Verdict.model_validate_json(json_schema.text or "").confidence <= 1


async def test_embed_content_through_batch_embed_contents(
    emulator: GeminiEmulator, client: genai.Client
) -> None:
    result = await run(
        client.models.embed_content,
        model="gemini-embedding-001",
        contents=["alpha", "beta"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=32),
    )
    assert result.embeddings is not None
    vectors = [e.values for e in result.embeddings]
    assert [len(v or []) for v in vectors] == [32, 32]
    assert vectors[0] != vectors[1]
    assert emulator.requests()[-1].url == "/v1/models/gemini-embedding-001:batchEmbedContents"


async def test_errors_surface_as_sdk_errors(emulator: GeminiEmulator) -> None:
    wrong = genai.Client(
        api_key="wrong", http_options=types.HttpOptions(base_url=emulator.root_url)
    )
    with pytest.raises(errors.ClientError) as caught:
        await run(wrong.models.generate_content, model=MODEL, contents="hi")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")


async def test_file_upload_and_a_file_batch_round_trip(
    emulator: GeminiEmulator, client: genai.Client
) -> None:
    lines = [
        {"key": f"req-{i}", "request": {"contents": [{"parts": [{"text": f"Question {i}"}]}]}}
        for i in range(20)
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = await run(
        client.files.upload,
        file=io.BytesIO(payload),
        config=types.UploadFileConfig(mime_type="jsonl", display_name="batch-input"),
    )
    assert uploaded.name is not None
    assert (uploaded.size_bytes, uploaded.display_name) == (len(payload), "batch-input")
    job = await run(
        client.batches.create,
        model=MODEL,
        src=uploaded.name,
        config=types.CreateBatchJobConfig(display_name="file-job"),
    )
    assert job.name is not None
    assert (job.state, job.display_name) == (types.JobState.JOB_STATE_PENDING, "file-job")
    emulator.clock.advance(PENDING_S + 20 / REQUESTS_PER_S + 1)
    done = await run(client.batches.get, name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None
    assert done.dest.file_name is not None
    content = await run(client.files.download, file=done.dest.file_name)
    rows = [json.loads(row) for row in content.decode().splitlines()]
    assert sorted(row["key"] for row in rows) == sorted(line["key"] for line in lines)
    realtime = await run(client.models.generate_content, model=MODEL, contents="Question 3")
    by_key = {row["key"]: row for row in rows}
    assert by_key["req-3"]["response"]["candidates"][0]["content"]["parts"][0]["text"] == (
        realtime.text
    )


async def test_inline_batches_list_and_cancel(
    emulator: GeminiEmulator, client: genai.Client
) -> None:
    inline = [
        types.InlinedRequest(contents=f"Inline {i}", metadata={"key": f"in-{i}"}) for i in range(3)
    ]
    job = await run(client.batches.create, model=MODEL, src=inline)
    other = await run(client.batches.create, model=MODEL, src=inline[:1])
    assert job.name is not None
    assert other.name is not None
    listed = await run(lambda: [b.name for b in client.batches.list()])
    assert listed == [other.name, job.name]
    await run(client.batches.cancel, name=other.name)
    await run(client.batches.cancel, name=other.name)
    cancelled = await run(client.batches.get, name=other.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    emulator.clock.advance(PENDING_S + 3 / REQUESTS_PER_S + 1)
    done = await run(client.batches.get, name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None
    responses = done.dest.inlined_responses or []
    assert [r.metadata for r in responses] == [{"key": f"in-{i}"} for i in range(3)]
    assert all(r.response is not None and r.response.text for r in responses)
    paged = await run(lambda: list(client.batches.list(config={"page_size": 1})))
    assert [b.name for b in paged] == [other.name, job.name]
    await run(client.batches.delete, name=job.name)
    with pytest.raises(errors.ClientError):
        await run(client.batches.get, name=job.name)


@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_the_async_client_works_too(emulator: GeminiEmulator) -> None:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emulator.root_url))
    answer = await client.aio.models.generate_content(model=MODEL, contents="async hello")
    assert "async hello" in (answer.text or "")
    uploaded = await client.aio.files.upload(
        file=io.BytesIO(b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}]}}\n'),
        config=types.UploadFileConfig(mime_type="application/jsonl"),
    )
    assert uploaded.name is not None
    job = await client.aio.batches.create(model=MODEL, src=uploaded.name)
    assert job.name is not None
    assert (await client.aio.batches.get(name=job.name)).state == types.JobState.JOB_STATE_PENDING
    await client.aio.aclose()
