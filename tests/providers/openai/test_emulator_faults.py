"""Every fault the OpenAI emulator injects, seen over real HTTP."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import openai
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import WINDOW_S, OpenAIEmulator

CHAT = "/v1/chat/completions"
AUTH = {"Authorization": "Bearer sk-test"}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def running(faults: str, seed: int = 0) -> AsyncIterator[tuple[OpenAIEmulator, Any]]:
    options = EmulatorOptions(time_scale=1.0, faults=faults, seed=seed)
    async with (
        OpenAIEmulator(options) as emulator,
        openai.AsyncOpenAI(base_url=emulator.base_url, api_key="sk-test", max_retries=0) as sdk,
    ):
        yield emulator, sdk


def jsonl(count: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "custom_id": f"q-{i}",
                "method": "POST",
                "url": CHAT,
                "body": BODY | {"messages": [{"role": "user", "content": f"q-{i}"}]},
            }
        )
        + "\n"
        for i in range(count)
    ).encode()


async def finished_batch(emulator: OpenAIEmulator, client: Any, count: int = 40) -> Any:
    uploaded = await client.files.create(file=("in.jsonl", jsonl(count)), purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
    )
    emulator.clock.advance(WINDOW_S / 2)
    return await client.batches.retrieve(batch.id)


async def raw_lines(client: Any, file_id: str | None) -> list[bytes]:
    if not file_id:
        return []
    return (await client.files.content(file_id)).content.splitlines()  # type: ignore[no-any-return]


async def test_http_429_carries_retry_after_and_openai_body() -> None:
    async with running("http_429,retry_after=7") as (emulator, _), aiohttp.ClientSession() as http:
        url = emulator.base_url + "/chat/completions"
        async with http.post(url, json=BODY, headers=AUTH) as response:
            assert response.status == 429
            assert response.headers["retry-after"] == "7"
            assert response.headers["x-request-id"].startswith("req_")
            error = (await response.json())["error"]
            assert error["code"] == "rate_limit_exceeded"
            assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("fault", "error"),
    [("http_500", openai.InternalServerError), ("http_503", openai.InternalServerError)],
)
async def test_server_errors_on_realtime_calls(fault: str, error: type[Exception]) -> None:
    async with running(fault) as (_, client):
        with pytest.raises(error) as caught:
            await client.embeddings.create(model="text-embedding-3-small", input="x")
        assert caught.value.status_code == int(fault[-3:])  # type: ignore[attr-defined]


async def test_fault_rates_are_reproducible_from_the_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        async with running("http_500=0.3", seed) as (emulator, _), aiohttp.ClientSession() as h:
            out = []
            for _ in range(40):
                async with h.post(
                    emulator.base_url + "/chat/completions", json=BODY, headers=AUTH
                ) as r:
                    out.append(r.status)
            return out

    first = await statuses(5)
    assert first == await statuses(5)
    assert first != await statuses(6)
    assert 4 <= first.count(500) <= 20
    assert set(first) == {200, 500}


async def test_create_lost_leaves_a_batch_behind() -> None:
    async with running("create_lost") as (emulator, client):
        uploaded = await client.files.create(file=("in.jsonl", jsonl(2)), purpose="batch")
        with pytest.raises(openai.InternalServerError):
            await client.batches.create(
                input_file_id=uploaded.id,
                endpoint=CHAT,
                completion_window="24h",
                metadata={"tag": "t-1"},
            )
        [created] = emulator.batches()
        listed = await client.batches.list()
        assert [b.id for b in listed.data] == [created.id]
        assert listed.data[0].metadata == {"tag": "t-1"}


async def test_create_dropped_closes_the_connection_after_creating() -> None:
    async with running("create_dropped") as (emulator, client), aiohttp.ClientSession() as http:
        uploaded = await client.files.create(file=("in.jsonl", jsonl(2)), purpose="batch")
        body = {"input_file_id": uploaded.id, "endpoint": CHAT, "completion_window": "24h"}
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post(emulator.base_url + "/batches", json=body, headers=AUTH):
                pass
        assert len(emulator.batches()) == 1


async def test_batch_404_hides_a_new_batch_for_a_while() -> None:
    async with running("batch_404=600") as (emulator, client):
        uploaded = await client.files.create(file=("in.jsonl", jsonl(2)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
        )
        with pytest.raises(openai.NotFoundError):
            await client.batches.retrieve(batch.id)
        emulator.clock.advance(601)
        assert (await client.batches.retrieve(batch.id)).status == "completed"


async def test_token_limit_fails_the_batch() -> None:
    async with running("token_limit") as (emulator, client):
        batch = await finished_batch(emulator, client, 3)
        assert batch.status == "failed"
        assert batch.errors.data[0].code == "token_limit_exceeded"
        assert "gpt-4o-mini" in batch.errors.data[0].message


async def test_line_errors_go_to_the_error_file() -> None:
    async with running("line_error=0.3") as (emulator, client):
        batch = await finished_batch(emulator, client)
        ok = [json.loads(raw) for raw in await raw_lines(client, batch.output_file_id)]
        bad = [json.loads(raw) for raw in await raw_lines(client, batch.error_file_id)]
        assert batch.status == "completed"
        assert batch.request_counts.failed == len(bad) > 0
        assert batch.request_counts.completed == len(ok) > 0
        assert {r["response"]["status_code"] for r in bad} <= {400, 429, 500}
        assert all(
            set(r["response"]["body"]["error"]) == {"message", "type", "param", "code"} for r in bad
        )
        ids = [r["custom_id"] for r in ok + bad]
        assert sorted(ids) == sorted(f"q-{i}" for i in range(40))


async def test_malformed_lines_take_every_shape() -> None:
    async with running("malformed=0.5") as (emulator, client):
        batch = await finished_batch(emulator, client, 60)
        broken = []
        for raw in await raw_lines(client, batch.output_file_id):
            try:
                parsed = json.loads(raw)
            except ValueError:
                broken.append("invalid")
                continue
            if not isinstance(parsed, dict):
                broken.append("non-object")
        assert 15 <= len(broken) <= 45
        assert set(broken) == {"invalid", "non-object"}


async def test_shuffle_duplicate_and_unknown_ids() -> None:
    async with running("shuffle") as (emulator, client):
        batch = await finished_batch(emulator, client)
        order = [json.loads(r)["custom_id"] for r in await raw_lines(client, batch.output_file_id)]
        assert order != [f"q-{i}" for i in range(40)]
        assert sorted(order) == sorted(f"q-{i}" for i in range(40))
    async with running("duplicate=0.2,unknown_id=0.2") as (emulator, client):
        batch = await finished_batch(emulator, client)
        ids = [json.loads(r)["custom_id"] for r in await raw_lines(client, batch.output_file_id)]
        known = {f"q-{i}" for i in range(40)}
        assert len([i for i in ids if i in known]) > len(set(ids) & known) == 40
        assert any(i not in known for i in ids)
        assert batch.request_counts.completed == 40


async def test_empty_error_file_id_and_all_errors() -> None:
    async with running("empty_error_file") as (emulator, client):
        batch = await finished_batch(emulator, client, 3)
        assert batch.error_file_id == ""
        assert batch.output_file_id
    async with running("all_errors") as (emulator, client):
        batch = await finished_batch(emulator, client, 5)
        assert batch.status == "completed"
        assert batch.output_file_id is None
        assert len(await raw_lines(client, batch.error_file_id)) == 5
        assert (batch.request_counts.completed, batch.request_counts.failed) == (0, 5)


def test_a_bad_fault_spec_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="http_529"):
        OpenAIEmulator(EmulatorOptions(faults="http_529"))
