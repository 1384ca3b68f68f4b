"""The emulator over raw HTTP: Anthropic's error shape, headers, status machine and answers."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_anthropic.emulator import (
    CACHE_MIN_TOKENS,
    CANCELING_S,
    REQUESTS_PER_S,
    RESULTS_TTL_S,
    START_S,
    WINDOW_S,
    AnthropicEmulator,
)
from batchery_anthropic.emulator import _ratelimit as ratelimit
from multidict import CIMultiDict

KEY = "sk-ant-api03-EMULATORtest"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
MODEL = "claude-haiku-4-5"


class Client:
    def __init__(self, emulator: AnthropicEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    async def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, CIMultiDict[str]]:
        data = io.BytesIO(msgspec.json.encode(body)) if body is not None else None
        async with self.session.request(
            method, self.emulator.base_url + path, data=data, headers=headers or HEADERS
        ) as response:
            raw = await response.read()
            is_json = response.content_type == "application/json"
            return (
                response.status,
                msgspec.json.decode(raw) if is_json else raw,
                CIMultiDict(response.headers),
            )

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, parsed, _ = await self.send(method, path, body)
        assert status == 200, parsed
        return parsed


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        AnthropicEmulator(EmulatorOptions(time_scale=1), api_key=KEY) as emulator,
        aiohttp.ClientSession() as session,
    ):
        yield Client(emulator, session)


def params(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def requests(count: int, **extra: Any) -> dict[str, Any]:
    return {
        "requests": [
            {"custom_id": f"r-{i}", "params": params(f"q{i}", **extra)} for i in range(count)
        ]
    }


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_errors_have_anthropics_shape_and_a_request_id(client: Client) -> None:
    status, body, headers = await client.send(
        "POST", "/v1/messages", params(), {"anthropic-version": "2023-06-01"}
    )
    assert status == 401
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert headers["request-id"].startswith("req_01")
    assert body["request_id"] == headers["request-id"]
    assert headers["anthropic-organization-id"]
    wrong = {**HEADERS, "x-api-key": "sk-ant-other"}
    status, body, _ = await client.send("POST", "/v1/messages", params(), wrong)
    assert (status, body["error"]["type"]) == (401, "authentication_error")
    assert KEY not in str(body)
    bearer = {"Authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}
    assert (await client.send("POST", "/v1/messages", params(), bearer))[0] == 200
    status, body, _ = await client.send("POST", "/v1/messages", params(), {"x-api-key": KEY})
    assert (status, body["error"]["message"]) == (400, "anthropic-version: header is required")
    status, body, _ = await client.send("GET", "/v1/nothing")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    status, body, _ = await client.send("PUT", "/v1/messages")
    assert (status, body["error"]["type"]) == (405, "invalid_request_error")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "requests: Field required"),
        ({"requests": []}, "requests: List should have at least 1 item, not 0"),
        (
            {"requests": [{"custom_id": "a b", "params": {}}]},
            "requests.0.custom_id: String should match pattern",
        ),
        (
            {"requests": [{"custom_id": "a", "params": {}}, {"custom_id": "a", "params": {}}]},
            "requests.1.custom_id: custom_id 'a' is used by more",
        ),
        (
            {"requests": [{"custom_id": "a", "params": [1]}]},
            "requests.0.params: Input should be a valid dictionary",
        ),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params: Field required"),
        (
            {"requests": [{"custom_id": "a", "params": {}, "extra": 1}]},
            "requests.0.extra: Extra inputs are not permitted",
        ),
    ],
)
async def test_create_refuses_bad_envelopes(client: Client, body: Any, message: str) -> None:
    status, error, _ = await client.send("POST", "/v1/messages/batches", body)
    assert status == 400
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(message), error


async def test_the_status_machine_over_the_clock(client: Client) -> None:
    created = await client.ok("POST", "/v1/messages/batches", requests(5))
    batch_id = created["id"]
    start = when(created["created_at"])
    assert when(created["expires_at"]) - start == pytest.approx(WINDOW_S)
    assert created["request_counts"] == {
        "processing": 5,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert (created["ended_at"], created["results_url"], created["archived_at"]) == (
        None,
        None,
        None,
    )
    status, error, _ = await client.send("GET", f"/v1/messages/batches/{batch_id}/results")
    assert (status, error["error"]["type"]) == (404, "not_found_error")
    status, error, _ = await client.send("DELETE", f"/v1/messages/batches/{batch_id}")
    assert status == 400

    client.emulator.clock.advance(START_S + 5 / REQUESTS_PER_S)
    ended = await client.ok("GET", f"/v1/messages/batches/{batch_id}")
    assert ended["processing_status"] == "ended"
    assert when(ended["ended_at"]) - start == pytest.approx(START_S + 5 / REQUESTS_PER_S)
    assert ended["request_counts"]["succeeded"] == 5
    assert (
        ended["results_url"] == f"{client.emulator.base_url}/v1/messages/batches/{batch_id}/results"
    )
    status, lines, headers = await client.send("GET", f"/v1/messages/batches/{batch_id}/results")
    assert status == 200
    assert headers["Content-Type"] == "application/binary"
    assert len(lines.splitlines()) == 5

    client.emulator.clock.advance(RESULTS_TTL_S)
    archived = await client.ok("GET", f"/v1/messages/batches/{batch_id}")
    assert archived["archived_at"] is not None
    assert archived["results_url"] is None
    assert (await client.send("GET", f"/v1/messages/batches/{batch_id}/results"))[0] == 404
    deleted = await client.ok("DELETE", f"/v1/messages/batches/{batch_id}")
    assert deleted == {"id": batch_id, "type": "message_batch_deleted"}
    assert (await client.send("GET", f"/v1/messages/batches/{batch_id}"))[0] == 404


async def test_cancel_timeline_and_results(client: Client) -> None:
    created = await client.ok("POST", "/v1/messages/batches", requests(10))
    batch_id = created["id"]
    client.emulator.clock.advance(START_S + 3 / REQUESTS_PER_S)
    canceling = await client.ok("POST", f"/v1/messages/batches/{batch_id}/cancel")
    assert canceling["processing_status"] == "canceling"
    again = await client.ok("POST", f"/v1/messages/batches/{batch_id}/cancel")
    assert again["cancel_initiated_at"] == canceling["cancel_initiated_at"]
    client.emulator.clock.advance(CANCELING_S)
    ended = await client.ok("GET", f"/v1/messages/batches/{batch_id}")
    assert ended["processing_status"] == "ended"
    assert when(ended["ended_at"]) - when(ended["cancel_initiated_at"]) == pytest.approx(
        CANCELING_S
    )
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 3,
        "errored": 0,
        "canceled": 7,
        "expired": 0,
    }
    _, raw, _ = await client.send("GET", f"/v1/messages/batches/{batch_id}/results")
    types = [msgspec.json.decode(line)["result"]["type"] for line in raw.splitlines()]
    assert types == ["succeeded"] * 3 + ["canceled"] * 7
    status, error, _ = await client.send("POST", f"/v1/messages/batches/{batch_id}/cancel")
    assert (status, error["error"]["type"]) == (400, "invalid_request_error")


async def test_list_query_rules(client: Client) -> None:
    assert (await client.ok("GET", "/v1/messages/batches")) == {
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }
    for query in ("?limit=0", "?limit=1001", "?limit=x", "?after_id=a&before_id=b"):
        assert (await client.send("GET", "/v1/messages/batches" + query))[0] == 400


async def test_invalid_params_end_as_errored_results(client: Client) -> None:
    bad = [
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        params(max_tokens=0),
        params(stream=True),
        params(temperature=3),
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
        params(tools=[{"name": "t", "input_schema": {"type": "string"}}]),
        params(tool_choice={"type": "tool", "name": "missing"}),
        params(output_config={"format": {"type": "xml"}}),
    ]
    body = {"requests": [{"custom_id": f"b{i}", "params": p} for i, p in enumerate(bad)]}
    created = await client.ok("POST", "/v1/messages/batches", body)
    client.emulator.clock.advance(START_S + len(bad) / REQUESTS_PER_S)
    ended = await client.ok("GET", f"/v1/messages/batches/{created['id']}")
    assert ended["request_counts"]["errored"] == len(bad)
    _, raw, _ = await client.send("GET", f"/v1/messages/batches/{created['id']}/results")
    messages = []
    for line in raw.splitlines():
        result = msgspec.json.decode(line)["result"]
        assert result["type"] == "errored"
        assert result["error"]["type"] == "error"
        assert result["error"]["error"]["type"] == "invalid_request_error"
        messages.append(result["error"]["error"]["message"])
    assert messages[0] == "max_tokens: Field required"
    assert messages[2] == "stream: streaming is not supported in a batch"


SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"enum": ["spam", "ham"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "nested": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    },
    "required": ["label", "score", "tags", "nested"],
}


def assert_valid(value: Any) -> None:
    assert value["label"] in ("spam", "ham")
    assert 1 <= value["score"] <= 5
    assert 1 <= len(value["tags"]) <= 3
    assert all(isinstance(t, str) for t in value["tags"])
    assert isinstance(value["nested"]["ok"], bool)


async def test_json_answers_fit_the_schema_and_repeat(client: Client) -> None:
    forced = params(
        tools=[{"name": "label", "input_schema": SCHEMA}],
        tool_choice={"type": "tool", "name": "label"},
    )
    answer = await client.ok("POST", "/v1/messages", forced)
    [block] = answer["content"]
    assert (block["type"], block["name"], answer["stop_reason"]) == (
        "tool_use",
        "label",
        "tool_use",
    )
    assert block["id"].startswith("toolu_")
    assert_valid(block["input"])
    anyone = params(tools=[{"name": "label", "input_schema": SCHEMA}], tool_choice={"type": "any"})
    assert (await client.ok("POST", "/v1/messages", anyone))["content"][0]["type"] == "tool_use"
    auto = params(tools=[{"name": "label", "input_schema": SCHEMA}], tool_choice={"type": "auto"})
    assert (await client.ok("POST", "/v1/messages", auto))["content"][0]["type"] == "text"
    formatted = params(output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
    text = (await client.ok("POST", "/v1/messages", formatted))["content"][0]["text"]
    assert_valid(msgspec.json.decode(text))
    assert (await client.ok("POST", "/v1/messages", forced))["content"] == answer["content"]

    created = await client.ok(
        "POST", "/v1/messages/batches", {"requests": [{"custom_id": "a", "params": forced}]}
    )
    client.emulator.clock.advance(START_S + 1)
    await client.ok("GET", f"/v1/messages/batches/{created['id']}")
    _, raw, _ = await client.send("GET", f"/v1/messages/batches/{created['id']}/results")
    message = msgspec.json.decode(raw)["result"]["message"]
    assert message["content"] == answer["content"]
    assert message["usage"]["service_tier"] == "batch"
    assert message["id"] != answer["id"]


async def test_long_system_prompts_read_from_the_cache(client: Client) -> None:
    system = "word " * (CACHE_MIN_TOKENS * 4 // 5 + 200)
    cached = await client.ok("POST", "/v1/messages", params(system=system))
    usage = cached["usage"]
    assert usage["cache_read_input_tokens"] >= CACHE_MIN_TOKENS
    assert usage["cache_read_input_tokens"] % 128 == 0
    assert usage["input_tokens"] > 0
    short = await client.ok("POST", "/v1/messages", params(system="be brief"))
    assert short["usage"]["cache_read_input_tokens"] == 0


async def test_rate_limit_headers_and_a_full_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "REQUESTS_PER_MIN", 2)
    async with (
        AnthropicEmulator(EmulatorOptions(time_scale=1)) as emulator,
        aiohttp.ClientSession() as session,
    ):
        client = Client(emulator, session)
        status, _, headers = await client.send("POST", "/v1/messages", params())
        assert status == 200
        for group in ("requests", "tokens", "input-tokens", "output-tokens"):
            for part in ("limit", "remaining", "reset"):
                assert f"anthropic-ratelimit-{group}-{part}" in headers
        assert headers["anthropic-ratelimit-requests-limit"] == "2"
        assert headers["anthropic-ratelimit-requests-remaining"] == "1"
        assert int(headers["anthropic-ratelimit-tokens-remaining"]) % 1000 == 0
        when(headers["anthropic-ratelimit-requests-reset"])
        await client.send("POST", "/v1/messages", params())
        status, body, headers = await client.send("POST", "/v1/messages", params())
        assert (status, body["error"]["type"]) == (429, "rate_limit_error")
        assert headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert int(headers["retry-after"]) >= 1


async def test_a_realtime_body_over_32_mb_is_too_large(client: Client) -> None:
    huge = params("x" * (33 * 1024 * 1024))
    status, body, _ = await client.send("POST", "/v1/messages", huge)
    assert (status, body["error"]["type"]) == (413, "request_too_large")


@pytest.mark.parametrize("fault", ["token_limit", "empty_error_file", "nonsense"])
def test_faults_anthropic_cannot_show_are_refused(fault: str) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        AnthropicEmulator(EmulatorOptions(faults=fault))


async def test_repr_and_introspection() -> None:
    emulator = AnthropicEmulator(EmulatorOptions(time_scale=2, faults="http_529=0.5"))
    assert "not started" in repr(emulator)
    assert emulator.batches() == []
    async with emulator:
        assert emulator.base_url in repr(emulator)
        assert emulator.storage_dir is not None
        directory = emulator.storage_dir
    assert not directory.exists()
