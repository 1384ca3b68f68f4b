"""The Voyage emulator over raw HTTP: auth, files, batch validation and statuses, result lines,
realtime answers in every encoding, faults and rate limits."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_voyage.emulator import (
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
    VoyageEmulator,
    rerank_score,
)
from multidict import CIMultiDict

KEY = "pa-EMULATORcanary0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Client:
    """Raw calls to one emulator, each answering (status, decoded JSON body, headers)."""

    def __init__(self, emulator: VoyageEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any, Mapping[str, str]]:
        url = self.emulator.base_url + path
        async with self.session.request(method, url, headers=headers or AUTH, **kwargs) as reply:
            raw = await reply.read()
            body = msgspec.json.decode(raw) if reply.content_type == "application/json" else raw
            return reply.status, body, CIMultiDict(reply.headers)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The body of a call that must succeed."""
        status, body, _ = await self.call(method, path, **kwargs)
        assert status == 200, body
        return body

    async def upload(self, lines: list[Any] | bytes, purpose: str = "batch") -> Any:
        data = (
            lines
            if isinstance(lines, bytes)
            else b"".join(msgspec.json.encode(line) + b"\n" for line in lines)
        )
        form = aiohttp.FormData()
        form.add_field("purpose", purpose)
        form.add_field("file", data, filename="input.jsonl", content_type="application/jsonl")
        status, body, _ = await self.call("POST", "/files", data=form)
        assert status == 200, body
        return body

    async def batch(self, lines: list[Any] | bytes, endpoint: str, **params: Any) -> Any:
        file = await self.upload(lines)
        create = {
            "endpoint": endpoint,
            "input_file_id": file["id"],
            "completion_window": "12h",
            "request_params": params,
        }
        status, body, _ = await self.call("POST", "/batches", json=create)
        assert status == 200, body
        return body


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        VoyageEmulator(EmulatorOptions(seed=3), api_key=KEY) as emulator,
        aiohttp.ClientSession() as session,
    ):
        yield Client(emulator, session)


def _lines(count: int) -> list[dict[str, Any]]:
    return [{"custom_id": f"id-{i}", "body": {"input": [f"text {i}"]}} for i in range(count)]


def _time(raw: str) -> float:
    return datetime.fromisoformat(raw).timestamp()


async def test_every_route_needs_the_key(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        status, body, _ = await client.call("GET", "/batches", headers=headers or {"X": "y"})
        assert status == 401
        assert isinstance(body["detail"], str)
        assert KEY not in str(body)


async def test_unknown_routes_answer_in_voyage_shape(client: Client) -> None:
    status, body, headers = await client.call("GET", "/nothing-here")
    assert (status, body) == (404, {"detail": "Not Found"})
    assert "x-request-id" in headers
    status, body, _ = await client.call("PUT", "/batches")
    assert (status, body) == (405, {"detail": "Method Not Allowed"})


async def test_files_are_stored_listed_read_and_deleted(client: Client) -> None:
    first = await client.upload(_lines(2))
    second = await client.upload(_lines(3))
    assert first["object"] == "file"
    assert (first["purpose"], first["filename"], first["status"]) == ("batch", "input.jsonl", None)
    assert _time(first["expires_at"]) - _time(first["created_at"]) == pytest.approx(30 * 86400)
    page = await client.ok("GET", "/files", params={"limit": "1"})
    assert ([f["id"] for f in page["data"]], page["has_more"]) == ([second["id"]], True)
    page = await client.ok("GET", "/files", params={"after": second["id"]})
    assert [f["id"] for f in page["data"]] == [first["id"]]
    page = await client.ok("GET", "/files", params={"purpose": "batch-output"})
    assert page["data"] == []
    content = await client.ok("GET", f"/files/{first['id']}/content")
    assert content.count(b"\n") == 2
    assert (await client.ok("DELETE", f"/files/{first['id']}"))["deleted"] is True
    assert (await client.call("GET", f"/files/{first['id']}"))[0] == 404


async def test_uploads_need_the_batch_purpose(client: Client) -> None:
    form = aiohttp.FormData()
    form.add_field("purpose", "fine-tune")
    form.add_field("file", b"{}\n", filename="x.jsonl")
    status, body, _ = await client.call("POST", "/files", data=form)
    assert status == 400
    assert "purpose" in body["detail"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"completion_window": "24h"}, "12h"),
        ({"endpoint": "/v1/chat/completions"}, "endpoint"),
        ({"request_params": {}}, "model"),
        ({"request_params": {"model": "rerank-2.5"}}, "not supported"),
        ({"request_params": {"model": "voyage-4", "top_k": 3}}, "Unexpected parameter"),
        ({"request_params": {"model": "voyage-4", "input": ["x"]}}, "must not hold input"),
        ({"request_params": {"model": "voyage-4", "input_type": "passage"}}, "input_type"),
        ({"request_params": {"model": "voyage-4", "output_dimension": 300}}, "output_dimension"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "16 pairs"),
        ({"metadata": {"k": "v" * 513}}, "512"),
        ({"requests_params": {"model": "voyage-4"}}, "requests_params"),
        ({"input_file_id": "file-missing"}, "not found"),
    ],
)
async def test_a_create_voyage_would_refuse_is_a_400(
    client: Client, change: dict[str, Any], fragment: str
) -> None:
    file = await client.upload(_lines(1))
    create = {
        "endpoint": "/v1/embeddings",
        "input_file_id": file["id"],
        "completion_window": "12h",
        "request_params": {"model": "voyage-4"},
        **change,
    }
    status, body, _ = await client.call("POST", "/batches", json=create)
    assert status in (400, 404)
    assert fragment in body["detail"]


async def test_a_batch_walks_voyage_statuses_with_rfc3339_times(client: Client) -> None:
    batch = await client.batch(_lines(4), "/v1/embeddings", model="voyage-4", input_type="document")
    assert batch["id"].startswith("batch-")
    assert (batch["object"], batch["status"], batch["model"]) == ("batch", "validating", "voyage-4")
    assert batch["completion_window"] == "12h"
    created = _time(batch["created_at"])
    assert _time(batch["expected_completion_at"]) - created == pytest.approx(WINDOW_S)
    seen = []
    for step in (VALIDATING_S, 4 / REQUESTS_PER_S, FINALIZING_S):
        client.emulator.clock.advance(step)
        body = await client.ok("GET", f"/batches/{batch['id']}")
        seen.append(body["status"])
    assert seen == ["in_progress", "finalizing", "completed"]
    assert body["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    assert _time(body["in_progress_at"]) == pytest.approx(created + VALIDATING_S)
    assert body["completed_at"] is not None
    assert body["error_file_id"] is None
    output = await client.ok("GET", f"/files/{body['output_file_id']}")
    assert (output["purpose"], output["filename"]) == (
        "batch-output",
        f"batch_{batch['id']}_output",
    )
    content = await client.ok("GET", f"/files/{body['output_file_id']}/content")
    line = msgspec.json.decode(content.splitlines()[0])
    assert set(line) == {"batch_id", "custom_id", "response", "error"}
    assert (line["batch_id"], line["error"], line["response"]["status_code"]) == (
        batch["id"],
        None,
        200,
    )
    answer = line["response"]["body"]
    assert (answer["object"], answer["model"]) == ("list", "voyage-4")
    assert len(answer["data"][0]["embedding"]) == 1024


async def test_a_bad_input_file_fails_the_batch_with_line_errors(client: Client) -> None:
    lines = (
        b'{"custom_id": "a", "body": {"input": ["x"]}}\n'
        b'{"custom_id": "a", "body": {"input": ["y"]}}\n'
        b"not json\n"
        b'{"custom_id": "b", "body": {"input": ["x"], "model": "voyage-4"}}\n'
        b'{"custom_id": "c", "body": {}}\n'
        b'{"custom_id": "d", "method": "POST", "body": {"input": ["x"]}}\n'
    )
    batch = await client.batch(lines, "/v1/embeddings", model="voyage-4")
    client.emulator.clock.advance(VALIDATING_S)
    body = await client.ok("GET", f"/batches/{batch['id']}")
    assert body["status"] == "failed"
    assert body["failed_at"] is not None
    codes = [(e["code"], e["line"]) for e in body["errors"]["data"]]
    assert codes == [
        ("duplicate_custom_id", 2),
        ("invalid_json_line", 3),
        ("invalid_body", 4),
        ("invalid_body", 5),
        ("invalid_request_line", 6),
    ]
    assert body["errors"]["object"] == "list"


async def test_more_than_100k_inputs_fail_validation(client: Client) -> None:
    lines = [{"custom_id": f"i{i}", "body": {"input": ["x"] * 1000}} for i in range(101)]
    batch = await client.batch(lines, "/v1/embeddings", model="voyage-4-lite")
    client.emulator.clock.advance(VALIDATING_S)
    body = await client.ok("GET", f"/batches/{batch['id']}")
    assert body["status"] == "failed"
    assert body["errors"]["data"][0]["code"] == "too_many_inputs"


async def test_a_line_voyage_refuses_goes_to_the_error_file(client: Client) -> None:
    lines = [
        {"custom_id": "good", "body": {"query": "q", "documents": ["a"]}},
        {"custom_id": "bad", "body": {"query": "", "documents": ["a"]}},
    ]
    batch = await client.batch(lines, "/v1/rerank", model="rerank-2.5-lite")
    client.emulator.clock.advance(VALIDATING_S + 2 / REQUESTS_PER_S + FINALIZING_S)
    body = await client.ok("GET", f"/batches/{batch['id']}")
    assert body["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    content = await client.ok("GET", f"/files/{body['error_file_id']}/content")
    line = msgspec.json.decode(content)
    assert line["custom_id"] == "bad"
    assert line["response"]["status_code"] == 400
    assert "query" in line["response"]["message"]


async def test_cancel_is_refused_once_past_in_progress(client: Client) -> None:
    batch = await client.batch(_lines(1), "/v1/embeddings", model="voyage-4")
    status, body, _ = await client.call("POST", f"/batches/{batch['id']}/cancel")
    assert (status, body["status"]) == (200, "cancelling")
    status, body, _ = await client.call("POST", f"/batches/{batch['id']}/cancel")
    assert status == 400
    assert "cancelling" in body["detail"]


async def test_listing_batches_pages_newest_first(client: Client) -> None:
    ids = [(await client.batch(_lines(1), "/v1/embeddings", model="voyage-4"))["id"] for _ in "abc"]
    page = await client.ok("GET", "/batches", params={"limit": "2"})
    assert ([b["id"] for b in page["data"]], page["has_more"]) == (ids[:0:-1], True)
    page = await client.ok("GET", "/batches", params={"after": page["last_id"]})
    assert [b["id"] for b in page["data"]] == ids[:1]
    assert (await client.call("GET", "/batches", params={"limit": "101"}))[0] == 400


async def test_embeddings_agree_across_encodings_and_repeat_exactly(client: Client) -> None:
    request = {"input": ["alpha", "beta"], "model": "voyage-3.5", "input_type": "query"}
    _, plain, _ = await client.call("POST", "/embeddings", json=request)
    _, packed, _ = await client.call(
        "POST", "/embeddings", json={**request, "encoding_format": "base64"}
    )
    _, again, _ = await client.call("POST", "/embeddings", json=request)
    assert plain == again
    assert plain["usage"]["total_tokens"] > 0
    for number, text in zip(plain["data"], packed["data"], strict=True):
        raw = base64.b64decode(text["embedding"])
        assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == number["embedding"]
    _, other, _ = await client.call("POST", "/embeddings", json={**request, "input_type": None})
    assert other["data"][0]["embedding"] != plain["data"][0]["embedding"]


@pytest.mark.parametrize(
    ("dtype", "length", "low", "high"),
    [
        ("int8", 256, -128, 127),
        ("uint8", 256, 0, 255),
        ("binary", 32, -128, 127),
        ("ubinary", 32, 0, 255),
    ],
)
async def test_quantized_embeddings(
    client: Client, dtype: str, length: int, low: int, high: int
) -> None:
    request = {"input": "x", "model": "voyage-4", "output_dimension": 256, "output_dtype": dtype}
    _, body, _ = await client.call("POST", "/embeddings", json=request)
    values = body["data"][0]["embedding"]
    assert len(values) == length
    assert all(isinstance(v, int) and low <= v <= high for v in values)


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        ({"input": [], "model": "voyage-4"}, "input"),
        ({"input": ["a"] * 1001, "model": "voyage-4"}, "limit is 1000"),
        ({"input": "a", "model": "voyage-2", "output_dimension": 512}, "does not support"),
        ({"input": "a", "model": "voyage-4", "output_dtype": "float16"}, "output_dtype"),
        ({"input": "a", "model": "voyage-4", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "a", "model": "voyage-4", "dimensions": 3}, "Unexpected"),
        ({"input": "a"}, "model"),
    ],
)
async def test_invalid_embedding_requests_are_400s(
    client: Client, request_: dict[str, Any], fragment: str
) -> None:
    status, body, _ = await client.call("POST", "/embeddings", json=request_)
    assert status == 400
    assert fragment in body["detail"]


async def test_contextual_vectors_depend_on_their_document(client: Client) -> None:
    request = {"inputs": [["shared", "one"], ["shared", "two"]], "model": "voyage-context-3"}
    status, body, _ = await client.call("POST", "/contextualizedembeddings", json=request)
    assert status == 200
    assert [len(doc["data"]) for doc in body["data"]] == [2, 2]
    assert [doc["index"] for doc in body["data"]] == [0, 1]
    first, second = (doc["data"][0]["embedding"] for doc in body["data"])
    assert first != second
    status, body, _ = await client.call(
        "POST", "/contextualizedembeddings", json={**request, "enable_auto_chunking": True}
    )
    assert status == 400


async def test_rerank_ranks_trims_and_returns_documents(client: Client) -> None:
    documents = ["the cat sat", "dogs bark", "a cat and a dog", "nothing"]
    request = {"query": "cat", "documents": documents, "model": "rerank-2.5", "top_k": 3}
    _, body, _ = await client.call("POST", "/rerank", json={**request, "return_documents": True})
    scores = [item["relevance_score"] for item in body["data"]]
    assert scores == sorted(scores, reverse=True)
    assert len(body["data"]) == 3
    for item in body["data"]:
        assert item["document"] == documents[item["index"]]
        assert item["relevance_score"] == rerank_score("rerank-2.5", "cat", item["document"])
        assert 0 < item["relevance_score"] < 1
    query_tokens = 1
    assert body["usage"]["total_tokens"] == query_tokens * 4 + sum(
        -(-len(d) // 4) for d in documents
    )


async def test_realtime_faults_answer_in_voyage_shape() -> None:
    options = EmulatorOptions(faults="http_429,retry_after=2.5,http_500", seed=1)
    async with VoyageEmulator(options) as emulator, aiohttp.ClientSession() as session:
        client = Client(emulator, session)
        request = {"input": "x", "model": "voyage-4"}
        status, body, headers = await client.call("POST", "/embeddings", json=request)
        assert (status, headers["retry-after"]) == (429, "2.5")
        assert "Rate limit" in body["detail"]
    async with VoyageEmulator(EmulatorOptions(faults="http_503")) as emulator:
        async with aiohttp.ClientSession() as session:
            status, body, _ = await Client(emulator, session).call(
                "POST", "/rerank", json={"query": "q", "documents": ["d"], "model": "rerank-2"}
            )
        assert (status, body) == (503, {"detail": "Service Unavailable"})


async def test_realtime_calls_meet_a_per_minute_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchery_voyage.emulator._app.REQUESTS_PER_MIN", 2)
    async with VoyageEmulator() as emulator, aiohttp.ClientSession() as session:
        client = Client(emulator, session)
        request = {"input": "x", "model": "voyage-4"}
        statuses = [(await client.call("POST", "/embeddings", json=request))[0] for _ in "abc"]
        assert statuses == [200, 200, 429]
        _, _, headers = await client.call("POST", "/embeddings", json=request)
        assert 1 <= int(headers["retry-after"]) <= 60
        emulator.clock.advance(60)
        assert (await client.call("POST", "/embeddings", json=request))[0] == 200


def test_faults_voyage_cannot_show_are_refused() -> None:
    with pytest.raises(ValueError, match="http_529"):
        VoyageEmulator(EmulatorOptions(faults="http_529"))


async def test_the_emulator_describes_itself_without_the_key() -> None:
    emulator = VoyageEmulator(EmulatorOptions(time_scale=50, faults="shuffle"), api_key=KEY)
    assert "not started" in repr(emulator)
    async with emulator:
        assert emulator.base_url.endswith("/v1")
        assert emulator.base_url in repr(emulator) or emulator.root_url in repr(emulator)
        assert KEY not in repr(emulator)
        storage = emulator.storage_dir
        assert storage is not None
        assert storage.exists()
    assert not storage.exists()
