"""The emulator's HTTP surface as a raw client sees it: auth, errors, uploads, the Operation."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_gemini.emulator import PENDING_S, REQUESTS_PER_S, GeminiEmulator

KEY = "emulator-http-key"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
LINE = {"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}


@pytest.fixture
async def emulator() -> AsyncIterator[GeminiEmulator]:
    async with GeminiEmulator(EmulatorOptions(seed=3), api_key=KEY) as emu:
        yield emu


@pytest.fixture
async def http(emulator: GeminiEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=emulator.root_url, headers={"x-goog-api-key": KEY}
    ) as session:
        yield session


async def _json(response: aiohttp.ClientResponse) -> Any:
    return msgspec.json.decode(await response.read())


async def _upload(http: aiohttp.ClientSession, data: bytes, chunk: int) -> dict[str, Any]:
    start = await http.post(
        "/upload/v1beta/files",
        json={"file": {"displayName": "in.jsonl"}},
        headers={
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(len(data)),
            "X-Goog-Upload-Header-Content-Type": "application/jsonl",
        },
    )
    assert start.status == 200
    url = start.headers["x-goog-upload-url"]
    offset = 0
    while True:
        piece = data[offset : offset + chunk]
        last = offset + len(piece) >= len(data)
        reply = await http.post(
            url,
            data=piece,
            headers={
                "X-Goog-Upload-Command": "upload, finalize" if last else "upload",
                "X-Goog-Upload-Offset": str(offset),
            },
            skip_auto_headers=["Content-Type"],
        )
        offset += len(piece)
        if last:
            assert reply.headers["x-goog-upload-status"] == "final"
            return dict((await _json(reply))["file"])
        assert reply.headers["x-goog-upload-status"] == "active"


async def test_errors_are_google_error_bodies(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    async with aiohttp.ClientSession(base_url=emulator.root_url) as anonymous:
        missing = await anonymous.get("/v1beta/batches")
        wrong = await anonymous.get("/v1beta/batches", headers={"x-goog-api-key": "nope"})
        missing_body, wrong_body = await _json(missing), await _json(wrong)
    assert (missing.status, missing_body["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert (wrong.status, wrong_body["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert wrong_body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert "nope" not in str(wrong_body)
    unknown = await http.get("/v1beta/batches/nothing")
    assert (unknown.status, (await _json(unknown))["error"]["code"]) == (404, 404)
    bad = await http.post("/v1beta/models/gemini-2.5-flash:generateContent", data=b"{oops")
    assert (bad.status, (await _json(bad))["error"]["status"]) == (400, "INVALID_ARGUMENT")
    empty = await http.post("/v1beta/models/gemini-2.5-flash:generateContent", json={})
    assert "contents" in (await _json(empty))["error"]["message"]
    route = await http.get("/v1beta/nowhere")
    assert route.status == 404


async def test_both_api_versions_answer(http: aiohttp.ClientSession) -> None:
    body = {"contents": [{"parts": [{"text": "same"}]}]}
    beta = await _json(
        await http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    )
    stable = await _json(await http.post("/v1/models/gemini-2.5-flash:generateContent", json=body))
    assert beta["candidates"] == stable["candidates"]


async def test_a_chunked_resumable_upload_round_trips(http: aiohttp.ClientSession) -> None:
    data = b"".join(msgspec.json.encode({**LINE, "key": f"k{i}"}) + b"\n" for i in range(400))
    file = await _upload(http, data, chunk=1000)
    assert file["name"].startswith("files/")
    assert (file["sizeBytes"], file["displayName"], file["state"]) == (
        str(len(data)),
        "in.jsonl",
        "ACTIVE",
    )
    assert file["mimeType"] == "application/jsonl"
    assert RFC3339.match(file["createTime"])
    assert file["sha256Hash"]
    got = await _json(await http.get(f"/v1beta/{file['name']}"))
    assert got["name"] == file["name"]
    listed = await _json(await http.get("/v1beta/files", params={"pageSize": "10"}))
    assert [f["name"] for f in listed["files"]] == [file["name"]]
    assert (await http.delete(f"/v1beta/{file['name']}")).status == 200
    assert (await http.get(f"/v1beta/{file['name']}")).status == 403


async def test_upload_sessions_check_offsets_and_sizes(http: aiohttp.ClientSession) -> None:
    start = await http.post(
        "/upload/v1beta/files",
        headers={
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": "10",
        },
    )
    url = start.headers["x-goog-upload-url"]
    assert "upload_id=" in url
    first = await http.post(
        url, data=b"12345", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"}
    )
    assert first.headers["x-goog-upload-status"] == "active"
    query = await http.post(url, headers={"X-Goog-Upload-Command": "query"})
    assert query.headers["x-goog-upload-size-received"] == "5"
    skipped = await http.post(
        url, data=b"0", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "9"}
    )
    assert skipped.status == 400
    short = await http.post(
        url,
        data=b"67",
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "5"},
    )
    assert short.status == 400
    assert "declared 10 bytes" in (await _json(short))["error"]["message"]
    gone = await http.post(url, headers={"X-Goog-Upload-Command": "query"})
    assert gone.status == 404


async def test_the_operation_wrapper_counters_and_timestamps(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    file = await _upload(http, msgspec.json.encode(LINE) + b"\n", chunk=1 << 20)
    created = await _json(
        await http.post(
            "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
            json={"batch": {"display_name": "snake", "input_config": {"file_name": file["name"]}}},
        )
    )
    assert created["name"].startswith("batches/")
    assert "done" not in created
    metadata = created["metadata"]
    assert metadata["@type"].endswith("GenerateContentBatch")
    assert (metadata["displayName"], metadata["state"]) == ("snake", "BATCH_STATE_PENDING")
    assert metadata["model"] == "models/gemini-2.5-flash"
    assert RFC3339.match(metadata["createTime"])
    emulator.clock.advance(PENDING_S + 1 / REQUESTS_PER_S + 1)
    done = await _json(await http.get(f"/v1beta/{created['name']}"))
    assert done["done"] is True
    stats = done["metadata"]["batchStats"]
    assert stats == {"requestCount": "1", "successfulRequestCount": "1"}
    results = done["metadata"]["output"]["responsesFile"]
    assert results == "files/batch-" + created["name"].removeprefix("batches/")
    assert done["response"] == {
        "@type": metadata["@type"] + "Output",
        "responsesFile": results,
    }
    assert RFC3339.match(done["metadata"]["endTime"])
    for prefix in ("/download/v1beta/", "/v1beta/"):
        download = await http.get(f"{prefix}{results}:download", params={"alt": "media"})
        line = msgspec.json.decode((await download.read()).strip())
        assert line["key"] == "a"
        assert line["response"]["candidates"][0]["content"]["role"] == "model"
    generated = await _json(await http.get(f"/v1beta/{results}"))
    assert (generated["source"], generated["sizeBytes"]) == (
        "GENERATED",
        str(download.content_length),
    )
    assert generated["sha256Hash"]
    digest = hashlib.sha256(await (await http.get(f"/v1/{results}:download?alt=media")).read())
    assert generated["sha256Hash"] != digest.hexdigest()


async def test_inline_batches_and_listing_without_inline_responses(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    requests = [{"request": LINE["request"], "metadata": {"key": f"m{i}"}} for i in range(3)]
    created = await _json(
        await http.post(
            "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
            json={
                "batch": {
                    "displayName": "inline",
                    "inputConfig": {"requests": {"requests": requests}},
                }
            },
        )
    )
    emulator.clock.advance(PENDING_S + 3 / REQUESTS_PER_S + 1)
    got = await _json(await http.get(f"/v1beta/{created['name']}"))
    inline = got["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert [entry["metadata"]["key"] for entry in inline] == ["m0", "m1", "m2"]
    assert got["response"]["inlinedResponses"]["inlinedResponses"] == inline
    listed = await _json(await http.get("/v1beta/batches", params={"pageSize": "1"}))
    assert [op["name"] for op in listed["operations"]] == [created["name"]]
    assert "output" not in listed["operations"][0]["metadata"]
    assert "nextPageToken" not in listed


async def test_inline_bodies_over_the_limit_are_refused(http: aiohttp.ClientSession) -> None:
    big = {"request": {"contents": [{"parts": [{"text": "x" * 1_000_000}]}]}}
    body = {"batch": {"inputConfig": {"requests": {"requests": [big] * 22}}}}
    refused = await http.post(
        "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
        data=io.BytesIO(msgspec.json.encode(body)),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status == 400
    assert "payload size" in (await _json(refused))["error"]["message"]


async def test_bad_batch_creates_are_invalid_arguments(http: aiohttp.ClientSession) -> None:
    path = "/v1beta/models/gemini-2.5-flash:batchGenerateContent"
    for body in (
        {},
        {"batch": {}},
        {"batch": {"inputConfig": {}}},
        {"batch": {"inputConfig": {"fileName": "files/x", "requests": {"requests": [LINE]}}}},
        {"batch": {"inputConfig": {"requests": {"requests": []}}}},
    ):
        reply = await http.post(path, json=body)
        assert reply.status == 400, body
    missing = await http.post(path, json={"batch": {"inputConfig": {"fileName": "files/none"}}})
    assert missing.status == 403


async def test_job_state_spelling_on_request() -> None:
    async with (
        GeminiEmulator(job_states=True) as emulator,
        aiohttp.ClientSession(
            base_url=emulator.root_url, headers={"x-goog-api-key": "any"}
        ) as http,
    ):
        created = await _json(
            await http.post(
                "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
                json={"batch": {"inputConfig": {"requests": {"requests": [LINE]}}}},
            )
        )
    assert created["metadata"]["state"] == "JOB_STATE_PENDING"


async def test_the_request_log_keeps_method_url_and_key_presence(
    emulator: GeminiEmulator, http: aiohttp.ClientSession
) -> None:
    await http.get("/v1beta/batches", params={"pageSize": "5"})
    entry = emulator.requests()[-1]
    assert (entry.method, entry.url, entry.key_header) == (
        "GET",
        "/v1beta/batches?pageSize=5",
        True,
    )
