"""The emulator's batch state machine over its scaled clock, read through raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_gemini._translate import parse_time
from batchery_gemini.emulator import (
    EXPIRE_S,
    PENDING_S,
    REQUESTS_PER_S,
    SUPPORTED_FAULTS,
    GeminiEmulator,
)

CREATE = "/v1beta/models/gemini-2.5-flash:batchGenerateContent"


def _requests(count: int) -> list[dict[str, Any]]:
    return [
        {
            "request": {"contents": [{"role": "user", "parts": [{"text": f"n{i}"}]}]},
            "metadata": {"key": f"k{i}"},
        }
        for i in range(count)
    ]


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator(EmulatorOptions(faults="batch_expire=0", seed=1)) as emu:
        yield emu


@pytest.fixture
async def http(emulator: GeminiEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=emulator.root_url, headers={"x-goog-api-key": "k"}
    ) as session:
        yield session


async def _call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, path, json=body) as response:
        return response.status, msgspec.json.decode(await response.read())


async def _create(http: aiohttp.ClientSession, count: int) -> str:
    body = {
        "batch": {"displayName": "d", "inputConfig": {"requests": {"requests": _requests(count)}}}
    }
    status, operation = await _call(http, "POST", CREATE, body)
    assert status == 200
    return str(operation["name"])


async def test_pending_running_succeeded_with_times_and_counts(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    name = await _create(http, 10)
    _, pending = await _call(http, "GET", f"/v1beta/{name}")
    created = parse_time(pending["metadata"]["createTime"])
    assert pending["metadata"]["state"] == "BATCH_STATE_PENDING"
    assert pending["metadata"]["batchStats"] == {
        "requestCount": "10",
        "pendingRequestCount": "10",
    }
    emulator.clock.advance(PENDING_S + 4 / REQUESTS_PER_S)
    _, running = await _call(http, "GET", f"/v1beta/{name}")
    assert running["metadata"]["state"] == "BATCH_STATE_RUNNING"
    assert running["metadata"]["batchStats"] == {
        "requestCount": "10",
        "successfulRequestCount": "4",
        "pendingRequestCount": "6",
    }
    assert "endTime" not in running["metadata"]
    emulator.clock.advance(60)
    _, done = await _call(http, "GET", f"/v1beta/{name}")
    assert (done["metadata"]["state"], done["done"]) == ("BATCH_STATE_SUCCEEDED", True)
    ended = parse_time(done["metadata"]["endTime"])
    assert created is not None
    assert ended is not None
    assert ended - created == pytest.approx(PENDING_S + 10 / REQUESTS_PER_S, abs=0.01)
    assert done["metadata"]["batchStats"] == {"requestCount": "10", "successfulRequestCount": "10"}
    assert "error" not in done


async def test_an_unreadable_input_file_fails_the_batch(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    start = await http.post(
        "/upload/v1beta/files",
        headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"},
    )
    reply = await http.post(
        start.headers["x-goog-upload-url"],
        data=b'{"key":"a","request":{}}\n{not json\n',
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"},
    )
    file_name = msgspec.json.decode(await reply.read())["file"]["name"]
    body = {"batch": {"inputConfig": {"fileName": file_name}}}
    _, operation = await _call(http, "POST", CREATE, body)
    emulator.clock.advance(PENDING_S)
    _, failed = await _call(http, "GET", f"/v1beta/{operation['name']}")
    assert failed["metadata"]["state"] == "BATCH_STATE_FAILED"
    assert failed["error"] == {"code": 3, "message": "Line 2 of the input is not valid JSON."}
    assert "output" not in failed["metadata"]


async def test_cancel_is_immediate_and_a_finished_batch_refuses_it(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    name = await _create(http, 10)
    emulator.clock.advance(PENDING_S + 3 / REQUESTS_PER_S)
    assert await _call(http, "POST", f"/v1beta/{name}:cancel", {}) == (200, {})
    assert await _call(http, "POST", f"/v1beta/{name}:cancel", {}) == (200, {})
    _, cancelled = await _call(http, "GET", f"/v1beta/{name}")
    assert cancelled["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    assert cancelled["error"]["code"] == 1
    inline = cancelled["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert [entry["metadata"]["key"] for entry in inline] == ["k0", "k1", "k2"]
    done = await _create(http, 1)
    emulator.clock.advance(PENDING_S + 1)
    status, refused = await _call(http, "POST", f"/v1beta/{done}:cancel", {})
    assert (status, refused["error"]["status"]) == (400, "FAILED_PRECONDITION")


async def test_deleted_batches_disappear(http: aiohttp.ClientSession) -> None:
    name = await _create(http, 1)
    assert await _call(http, "DELETE", f"/v1beta/{name}") == (200, {})
    status, _ = await _call(http, "GET", f"/v1beta/{name}")
    assert status == 404
    _, listed = await _call(http, "GET", "/v1beta/batches")
    assert listed == {"operations": []}


async def test_a_stalled_batch_expires_after_48_hours_without_output() -> None:
    async with (
        GeminiEmulator(EmulatorOptions(faults="batch_expire")) as emulator,
        aiohttp.ClientSession(base_url=emulator.root_url, headers={"x-goog-api-key": "k"}) as http,
    ):
        name = await _create(http, 6)
        emulator.clock.advance(EXPIRE_S - 1)
        _, stalled = await _call(http, "GET", f"/v1beta/{name}")
        assert stalled["metadata"]["state"] == "BATCH_STATE_RUNNING"
        assert stalled["metadata"]["batchStats"]["successfulRequestCount"] == "3"
        emulator.clock.advance(2)
        await emulator.refresh()
        expired = emulator.batches()[0]
    assert (expired.metadata.state, expired.done) == ("BATCH_STATE_EXPIRED", True)
    assert expired.metadata.output is None
    assert expired.response is None


async def test_embedding_batches_from_a_file(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    lines = b"".join(
        msgspec.json.encode(
            {
                "key": f"e{i}",
                "request": {
                    "content": {"parts": [{"text": f"doc {i}"}]},
                    "outputDimensionality": 8,
                },
            }
        )
        + b"\n"
        for i in range(3)
    )
    start = await http.post(
        "/upload/v1beta/files",
        headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"},
    )
    reply = await http.post(
        start.headers["x-goog-upload-url"],
        data=lines,
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"},
    )
    file_name = msgspec.json.decode(await reply.read())["file"]["name"]
    _, operation = await _call(
        http,
        "POST",
        "/v1beta/models/gemini-embedding-001:asyncBatchEmbedContent",
        {"batch": {"displayName": "emb", "inputConfig": {"file_name": file_name}}},
    )
    assert operation["metadata"]["@type"].endswith("EmbedContentBatch")
    emulator.clock.advance(PENDING_S + 5)
    _, done = await _call(http, "GET", f"/v1beta/{operation['name']}")
    results_file = done["metadata"]["output"]["responsesFile"]
    async with http.get(f"/download/v1beta/{results_file}:download?alt=media") as download:
        rows = [msgspec.json.decode(line) for line in (await download.read()).splitlines()]
    assert [row["key"] for row in rows] == ["e0", "e1", "e2"]
    assert all(len(row["response"]["embedding"]["values"]) == 8 for row in rows)
    _, single = await _call(
        http,
        "POST",
        "/v1beta/models/gemini-embedding-001:embedContent",
        {"content": {"parts": [{"text": "doc 1"}]}, "outputDimensionality": 8},
    )
    assert single["embedding"] == rows[1]["response"]["embedding"]


def test_faults_are_the_kits_names_that_apply() -> None:
    assert {"http_429", "create_lost", "batch_expire", "all_errors"} <= SUPPORTED_FAULTS
    assert not {"http_529", "token_limit", "empty_error_file"} & SUPPORTED_FAULTS
    with pytest.raises(ValueError, match="unknown fault"):
        GeminiEmulator(EmulatorOptions(faults="http_529"))
    emulator = GeminiEmulator(EmulatorOptions(faults="shuffle,retry_after=3", time_scale=50))
    assert "not started" in repr(emulator)
    assert emulator.batches() == []
    assert emulator.files() == []
