"""Together's twists on OpenAI's Batch API, over real loopback HTTP to the Together emulator.

Uploads go to `/files/upload` as `batch-api` files named by the tag; a create answers with the
batch under `job`; batch objects speak upper-case statuses and RFC 3339 times; the batch list is
a bare array; and since batches carry no metadata, a lost create is found by its input file.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from batchery.model import BatchStatus, LlmRequest, LlmResult, Message
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions
from batchery_openai import OpenAIOptions, create_session
from batchery_together import TogetherModule, TogetherProvider, from_env, options_from
from batchery_together.emulator import TogetherEmulator

KEY = "tgp-canary0123456789abcdef"


@pytest.fixture
async def together() -> AsyncIterator[tuple[TogetherEmulator, TogetherProvider]]:
    emulator = TogetherEmulator(EmulatorOptions(seed=3), api_key=KEY)
    await emulator.start()
    options = OpenAIOptions(api_key=Secret(KEY), base_url=emulator.base_url)
    async with create_session(options) as session:
        yield emulator, TogetherProvider(options, session)
    await emulator.close()


def chats(count: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"t-{i}", messages=(Message("user", f"question {i}"),))
        for i in range(count)
    ]


async def test_a_batch_runs_from_upload_to_results_in_together_s_words(
    together: tuple[TogetherEmulator, TogetherProvider],
) -> None:
    emulator, provider = together
    state = await provider.submit_batch(chats(3), tag="run-1")
    assert state.status is BatchStatus.VALIDATING
    assert state.tag == "run-1"
    [upload] = emulator.files()
    assert (upload.purpose, upload.filename) == ("batch-api", "batchery-run-1.jsonl")
    async with aiohttp.ClientSession() as raw:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with raw.get(f"{emulator.base_url}/batches/{state.batch_id}", headers=headers) as r:
            wire = await r.json()
        async with raw.get(f"{emulator.base_url}/batches", headers=headers) as r:
            listed = await r.json()
    assert wire["status"] == "VALIDATING"
    assert wire["created_at"].endswith("Z")
    assert "metadata" not in wire
    assert [item["id"] for item in listed] == [state.batch_id]
    emulator.clock.advance(3600)
    done = await provider.get_batch(state.batch_id)
    assert done.status is BatchStatus.COMPLETED
    results = [item async for item in provider.collect(done)]
    assert sorted(r.custom_id for r in results if isinstance(r, LlmResult) and r.ok) == [
        "t-0",
        "t-1",
        "t-2",
    ]
    assert {r.provider for r in results if isinstance(r, LlmResult)} == {"together"}


async def test_a_lost_create_is_found_by_its_input_file(
    together: tuple[TogetherEmulator, TogetherProvider],
) -> None:
    _, provider = together
    before = time.time() - 1
    state = await provider.submit_batch(chats(2), tag="lost-1")
    found = await provider.find_batch("lost-1", created_after=before)
    assert found is not None
    assert (found.batch_id, found.tag) == (state.batch_id, "lost-1")
    assert await provider.find_batch("never-sent", created_after=before) is None
    assert await provider.find_batch("lost-1", created_after=time.time() + 60) is None


def test_options_come_from_together_s_variables_and_given_ones_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "never-this-one")
    assert from_env().api_key == Secret("from-env")
    assert from_env().base_url == "https://api.together.xyz/v1"
    given = options_from({"base_url": "http://127.0.0.1:9/v1", "api_key": "given"})
    assert (given.base_url, given.api_key) == ("http://127.0.0.1:9/v1", Secret("given"))
    assert TogetherModule.INFO.key_env == "TOGETHER_API_KEY"
    assert isinstance(TogetherModule.emulator(EmulatorOptions()), TogetherEmulator)
