"""Gemini emulator replies read with the official `google-genai` SDK's own types.

The SDK's types forbid unknown fields (`extra="forbid"`), so every field the emulator sends
must be one the SDK knows. They cannot also be read in pydantic's strict mode: the API sends
int64 values as JSON strings (`"sizeBytes": "12"`), which the SDK itself reads in lax mode.

Every batch is a `google.longrunning.Operation`, and a done one holds exactly one of `error`
and `response` (googleapis `google/longrunning/operations.proto`); cancelled, failed and
expired batches hold an error, with what ran kept in the batch's `output`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
import msgspec
import pydantic
import pytest
from batchery.spi import EmulatorOptions
from batchery_gemini.emulator import EXPIRE_S, PENDING_S, REQUESTS_PER_S, GeminiEmulator
from google import genai
from google.genai import types

KEY = "sdk-types-key"
MODEL = "gemini-2.5-flash"
M = TypeVar("M", bound=pydantic.BaseModel)


def read(model: type[M], payload: Any) -> M:
    """`payload` as the SDK type `model`; an unknown field anywhere fails the test."""
    return model.model_validate(payload)


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator(EmulatorOptions(faults="batch_expire=0", seed=3)) as emu:
        yield emu


@pytest.fixture
async def http(emulator: GeminiEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"x-goog-api-key": KEY}
    async with aiohttp.ClientSession(base_url=emulator.root_url, headers=headers) as session:
        yield session


async def _call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, path, json=body) as response:
        assert response.status == 200, await response.text()
        return msgspec.json.decode(await response.read())


def _inline(count: int) -> dict[str, Any]:
    requests = [
        {
            "request": {"contents": [{"role": "user", "parts": [{"text": f"q{i}"}]}]},
            "metadata": {"key": f"k{i}"},
        }
        for i in range(count)
    ]
    return {"batch": {"displayName": "d", "inputConfig": {"requests": {"requests": requests}}}}


async def _batch(http: aiohttp.ClientSession, count: int) -> str:
    operation = await _call(
        http, "POST", f"/v1beta/models/{MODEL}:batchGenerateContent", _inline(count)
    )
    name: str = operation["name"]
    return name


def _one_of(operation: dict[str, Any]) -> str:
    """Which of `error` and `response` a done operation holds; exactly one must be there."""
    assert operation["done"] is True
    held = [key for key in ("error", "response") if key in operation]
    assert len(held) == 1, operation.keys()
    return held[0]


async def test_a_succeeded_batch_has_only_a_response(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    name = await _batch(http, 2)
    emulator.clock.advance(PENDING_S + 2 / REQUESTS_PER_S)
    done = await _call(http, "GET", f"/v1beta/{name}")
    assert done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert _one_of(done) == "response"
    responses = done["response"]["inlinedResponses"]["inlinedResponses"]
    for entry in responses:
        read(types.GenerateContentResponse, entry["response"])


async def test_a_cancelled_batch_has_only_error_1_and_keeps_what_ran_in_its_output(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    name = await _batch(http, 10)
    emulator.clock.advance(PENDING_S + 3 / REQUESTS_PER_S)
    await _call(http, "POST", f"/v1beta/{name}:cancel", {})
    cancelled = await _call(http, "GET", f"/v1beta/{name}")
    assert _one_of(cancelled) == "error"
    assert cancelled["error"]["code"] == 1
    kept = cancelled["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert [entry["metadata"]["key"] for entry in kept] == ["k0", "k1", "k2"]


async def test_an_all_failed_batch_has_only_error_13() -> None:
    async with (
        GeminiEmulator(EmulatorOptions(faults="all_errors", seed=3)) as emulator,
        aiohttp.ClientSession(base_url=emulator.root_url, headers={"x-goog-api-key": KEY}) as http,
    ):
        name = await _batch(http, 3)
        emulator.clock.advance(PENDING_S + 3 / REQUESTS_PER_S)
        failed = await _call(http, "GET", f"/v1beta/{name}")
    assert failed["metadata"]["state"] == "BATCH_STATE_FAILED"
    assert _one_of(failed) == "error"
    assert failed["error"]["code"] == 13
    assert len(failed["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]) == 3


async def test_an_expired_batch_has_only_error_4_and_no_output() -> None:
    async with (
        GeminiEmulator(EmulatorOptions(faults="batch_expire", seed=3)) as emulator,
        aiohttp.ClientSession(base_url=emulator.root_url, headers={"x-goog-api-key": KEY}) as http,
    ):
        name = await _batch(http, 4)
        emulator.clock.advance(EXPIRE_S + 1)
        expired = await _call(http, "GET", f"/v1beta/{name}")
    assert expired["metadata"]["state"] == "BATCH_STATE_EXPIRED"
    assert _one_of(expired) == "error"
    assert expired["error"]["code"] == 4
    assert "output" not in expired["metadata"]


async def test_the_sdk_reads_a_cancelled_batchs_results_from_its_output(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emulator.root_url))
    name = await _batch(http, 4)
    emulator.clock.advance(PENDING_S + 1 / REQUESTS_PER_S)
    await _call(http, "POST", f"/v1beta/{name}:cancel", {})
    job = await asyncio.to_thread(client.batches.get, name=name)
    assert job.state == types.JobState.JOB_STATE_CANCELLED
    # The SDK takes a batch's results from `metadata.output`, never from `response`.
    assert job.dest is not None
    assert job.dest.inlined_responses is not None
    assert len(job.dest.inlined_responses) == 1


async def test_realtime_replies_and_files_fit_the_sdk_types(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emulator.root_url))
    config = types.UploadFileConfig(mime_type="application/jsonl")
    await asyncio.to_thread(client.files.upload, file=io.BytesIO(b"{}\n"), config=config)
    content = {"contents": [{"role": "user", "parts": [{"text": "Is water wet?"}]}]}
    generated = await _call(http, "POST", f"/v1beta/models/{MODEL}:generateContent", content)
    read(types.GenerateContentResponse, generated)
    embedder = "models/gemini-embedding-001"
    request = {"model": embedder, "content": {"parts": [{"text": "a text"}]}}
    embedded = await _call(
        http, "POST", f"/v1beta/{embedder}:batchEmbedContents", {"requests": [request]}
    )
    read(types.EmbedContentResponse, embedded)
    listed = await _call(http, "GET", "/v1beta/files")
    assert len(listed["files"]) == 1
    read(types.File, listed["files"][0])
