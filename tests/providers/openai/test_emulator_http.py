"""Auth, error bodies, headers, pagination and streamed file transfer, over raw HTTP."""

import hashlib
import json
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-secret-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=1.0), api_key=KEY) as emu:
        yield emu


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"Authorization": "Bearer wrong"}, "invalid_api_key"),
        ({"Authorization": KEY}, None),
    ],
)
async def test_auth_is_required_and_the_key_never_echoed(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession, headers: dict[str, str], code: str | None
) -> None:
    async with http.get(emulator.base_url + "/batches", headers=headers) as response:
        assert response.status == 401
        text = await response.text()
        assert response.headers["x-request-id"].startswith("req_")
    assert json.loads(text)["error"]["code"] == code
    assert KEY not in text
    assert "wrong" not in text
    assert KEY not in repr(emulator)


async def test_any_key_is_accepted_without_api_key(http: aiohttp.ClientSession) -> None:
    async with OpenAIEmulator() as emulator:
        headers = {"Authorization": "Bearer anything"}
        async with http.get(emulator.base_url + "/files", headers=headers) as response:
            assert response.status == 200
            assert await response.json() == {
                "object": "list",
                "data": [],
                "has_more": False,
                "first_id": None,
                "last_id": None,
            }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/batches/batch_nope", 404),
        ("GET", "/files/file-nope", 404),
        ("GET", "/files/file-nope/content", 404),
        ("DELETE", "/files/file-nope", 404),
        ("POST", "/batches/batch_nope/cancel", 404),
        ("GET", "/nowhere", 404),
        ("GET", "/batches?limit=101", 400),
        ("GET", "/files?order=sideways", 400),
    ],
)
async def test_errors_use_openai_bodies(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession, method: str, path: str, status: int
) -> None:
    async with http.request(method, emulator.base_url + path, headers=AUTH) as response:
        assert response.status == status
        assert response.headers["x-request-id"]
        error = (await response.json())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"model": "m"}',
        b'{"model": "m", "messages": []}',
        b'{"messages": [{"role": "user", "content": "x"}]}',
    ],
)
async def test_invalid_realtime_bodies_are_400(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession, body: bytes
) -> None:
    url = emulator.base_url + "/chat/completions"
    async with http.post(url, data=body, headers=AUTH | {"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert (await r.json())["error"]["type"] == "invalid_request_error"


async def test_realtime_replies_carry_rate_limit_headers(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    remaining = []
    for _ in range(2):
        async with http.post(emulator.base_url + "/chat/completions", json=BODY, headers=AUTH) as r:
            assert r.status == 200
            for name in (
                "limit-requests",
                "limit-tokens",
                "remaining-tokens",
                "reset-requests",
                "reset-tokens",
            ):
                assert r.headers[f"x-ratelimit-{name}"]
            remaining.append(int(r.headers["x-ratelimit-remaining-requests"]))
    assert remaining[0] - remaining[1] == 1


async def test_latency_is_added_to_realtime_calls(http: aiohttp.ClientSession) -> None:
    import time

    async with OpenAIEmulator(EmulatorOptions(latency_s=0.2)) as emulator:
        start = time.monotonic()
        async with http.post(emulator.base_url + "/chat/completions", json=BODY, headers=AUTH) as r:
            assert r.status == 200
        assert time.monotonic() - start >= 0.2


async def upload(
    http: aiohttp.ClientSession, emulator: OpenAIEmulator, data: object, purpose: str = "batch"
) -> dict[str, object]:
    form = aiohttp.FormData()
    form.add_field("purpose", purpose)
    form.add_field("file", data, filename="in.jsonl", content_type="application/octet-stream")
    async with http.post(emulator.base_url + "/files", data=form, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        return await response.json()  # type: ignore[no-any-return]


async def test_file_and_batch_lists_paginate(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": BODY}
    files = [await upload(http, emulator, json.dumps(line).encode()) for _ in range(5)]
    await upload(http, emulator, b"x", purpose="user_data")
    batch_ids = []
    for file in files:
        body = {
            "input_file_id": file["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        }
        async with http.post(emulator.base_url + "/batches", json=body, headers=AUTH) as r:
            batch_ids.append((await r.json())["id"])

    seen: list[str] = []
    after = None
    while True:
        query = "?limit=2" + (f"&after={after}" if after else "")
        async with http.get(emulator.base_url + "/batches" + query, headers=AUTH) as r:
            page = await r.json()
        seen += [b["id"] for b in page["data"]]
        assert page["first_id"] == page["data"][0]["id"]
        assert page["last_id"] == page["data"][-1]["id"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == batch_ids[::-1]

    async with http.get(
        emulator.base_url + "/files?purpose=batch&order=asc&limit=3", headers=AUTH
    ) as r:
        page = await r.json()
    assert [f["id"] for f in page["data"]] == [f["id"] for f in files[:3]]
    assert page["has_more"] is True
    async with http.get(
        emulator.base_url + f"/files?purpose=batch&order=asc&after={page['last_id']}", headers=AUTH
    ) as r:
        rest = await r.json()
    assert [f["id"] for f in rest["data"]] == [f["id"] for f in files[3:]]
    assert rest["has_more"] is False

    async with http.delete(emulator.base_url + f"/files/{files[0]['id']}", headers=AUTH) as r:
        assert await r.json() == {"id": files[0]["id"], "object": "file", "deleted": True}
    assert files[0]["id"] not in {f.id for f in emulator.files()}


async def test_a_large_file_streams_through_disk_both_ways(
    emulator: OpenAIEmulator, http: aiohttp.ClientSession
) -> None:
    chunk = (
        json.dumps({"custom_id": "x" * 40, "method": "POST", "body": BODY}) + "\n"
    ).encode() * 600
    rounds = 40_000_000 // len(chunk)
    sent = hashlib.sha256()

    async def produce() -> AsyncIterator[bytes]:
        for _ in range(rounds):
            sent.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        stored = await upload(http, emulator, produce())
        received = hashlib.sha256()
        size = 0
        url = emulator.base_url + f"/files/{stored['id']}/content"
        async with http.get(url, headers=AUTH) as response:
            assert response.status == 200
            async for piece in response.content.iter_chunked(256 * 1024):
                received.update(piece)
                size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == stored["bytes"] == rounds * len(chunk) > 35_000_000
    assert received.hexdigest() == sent.hexdigest()
    assert peak < 8_000_000
    assert emulator.storage_dir is not None
    assert (emulator.storage_dir / str(stored["id"])).stat().st_size == size


async def test_storage_is_removed_on_close() -> None:
    emulator = OpenAIEmulator()
    await emulator.start()
    directory = emulator.storage_dir
    assert directory is not None
    assert directory.is_dir()
    await emulator.close()
    assert not directory.exists()
