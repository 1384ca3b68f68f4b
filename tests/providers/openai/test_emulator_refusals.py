"""The emulator refuses what the real OpenAI API refuses, up front and in its error shape.

Request bodies are checked against the official spec's request schemas; uploads against the
Files API's limits; a batch line the API would refuse ends as an error line, counted as failed
from the start, so `request_counts` never go down.
"""

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import (
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    OpenAIEmulator,
)
from batchery_openai.emulator import _batches as batches_module
from batchery_openai.emulator import _files as files_module

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=1.0)) as emu:
        yield emu


@pytest.fixture
async def http(emulator: OpenAIEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": "Bearer sk-test"}
    async with aiohttp.ClientSession(emulator.base_url + "/", headers=headers) as session:
        yield session


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=emulator.base_url, api_key="sk-test", max_retries=0
    ) as sdk:
        yield sdk


async def _error(response: aiohttp.ClientResponse) -> dict[str, Any]:
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("url", "body", "param", "says"),
    [
        ("chat/completions", {"temperature": 5}, "temperature", "maximum of 2"),
        ("chat/completions", {"top_p": 3}, "top_p", "maximum of 1"),
        ("chat/completions", {"presence_penalty": 9}, "presence_penalty", "maximum of 2"),
        (
            "chat/completions",
            {"messages": [{"role": "robot", "content": "x"}]},
            "messages.[0].role",
            "Invalid value: 'robot'. Supported values are: 'developer', 'system', 'user'",
        ),
        (
            "chat/completions",
            {"messages": [{"role": "user"}]},
            "messages.[0].content",
            "Missing required parameter: 'messages.[0].content'.",
        ),
        ("chat/completions", {"colour": "blue"}, "colour", "Unrecognized request argument"),
        ("embeddings", {"user": {}}, "user", "is not of type"),
        ("embeddings", {"colour": "blue"}, "colour", "Unrecognized request argument"),
        ("embeddings", {"input": []}, "input", "less than 1 item"),
    ],
)
async def test_a_realtime_body_the_spec_refuses_is_a_400_naming_the_parameter(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], param: str, says: str
) -> None:
    valid: dict[str, Any] = {"model": "gpt-4o-mini"}
    valid |= {"messages": HI} if url.startswith("chat") else {"input": "a text"}
    async with http.post(url, json=valid) as response:
        assert response.status == 200
    async with http.post(url, json=valid | body) as response:
        assert response.status == 400
        error = await _error(response)
    assert error["param"] == param
    assert says in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_null_is_accepted_where_the_spec_says_nullable(http: aiohttp.ClientSession) -> None:
    body = {"model": "m", "messages": HI, "temperature": None, "n": None, "max_tokens": None}
    async with http.post("chat/completions", json=body) as response:
        assert response.status == 200


@pytest.mark.parametrize("body", [{"data": b""}, {"json": {"purpose": "batch"}}])
async def test_an_upload_that_is_not_multipart_is_a_400_in_openais_shape(
    http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    async with http.post("files", **body) as response:
        assert response.status == 400
        assert "multipart/form-data" in (await _error(response))["message"]


async def test_a_batch_file_must_be_jsonl(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        await client.files.create(file=("scan.png", b"\x89PNG\r\n"), purpose="batch")
    kept = await client.files.create(file=("scan.png", b"\x89PNG\r\n"), purpose="vision")
    assert kept.purpose == "vision"


async def test_a_batch_file_over_the_batch_limit_is_refused_at_upload_and_at_create(
    client: openai.AsyncOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = json.dumps({"custom_id": "a", "method": "POST", "url": CHAT, "body": {}}) + "\n"
    payload = (line * 4).encode()
    monkeypatch.setattr(files_module, "MAX_BATCH_FILE_BYTES", len(payload) - 1)
    with pytest.raises(openai.BadRequestError, match="too large"):
        await client.files.create(file=("in.jsonl", payload), purpose="batch")
    small = await client.files.create(file=("in.jsonl", payload[: len(line)]), purpose="user_data")
    assert small.bytes == len(line)

    monkeypatch.setattr(files_module, "MAX_BATCH_FILE_BYTES", len(payload))
    uploaded = await client.files.create(file=("in.jsonl", payload), purpose="batch")
    monkeypatch.setattr(batches_module, "MAX_BATCH_FILE_BYTES", len(payload) - 1)
    with pytest.raises(openai.BadRequestError, match="byte limit") as refused:
        await client.batches.create(
            input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
        )
    assert refused.value.param == "input_file_id"


@pytest.mark.parametrize(
    ("expiry", "param"),
    [
        ({"anchor": "last_active_at", "seconds": 3600}, "expires_after.anchor"),
        ({"anchor": "created_at", "seconds": 60}, "expires_after.seconds"),
        ({"anchor": "created_at", "seconds": 3_000_000}, "expires_after.seconds"),
    ],
)
async def test_expires_after_needs_the_created_at_anchor_and_seconds_in_range(
    client: openai.AsyncOpenAI, expiry: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await client.files.create(
            file=("in.jsonl", b"{}\n"),
            purpose="batch",
            expires_after=expiry,  # type: ignore[arg-type]
        )
    assert refused.value.param == param


async def test_expires_after_is_honoured_on_every_purpose(client: openai.AsyncOpenAI) -> None:
    for purpose in ("batch", "user_data", "evals"):
        kept = await client.files.create(
            file=("in.jsonl", b"{}\n"),
            purpose=purpose,  # type: ignore[arg-type]
            expires_after={"anchor": "created_at", "seconds": 7200},
        )
        assert kept.expires_at == kept.created_at + 7200, purpose
    plain = await client.files.create(file=("in.jsonl", b"{}\n"), purpose="user_data")
    assert plain.expires_at is None


async def test_an_endpoint_the_emulator_does_not_serve_is_refused_as_an_unsupported_value(
    client: openai.AsyncOpenAI,
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError) as refused:
        await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/responses", completion_window="24h"
        )
    assert refused.value.param == "endpoint"
    assert refused.value.code == "invalid_value"
    assert "Supported values are: '/v1/chat/completions', '/v1/embeddings'" in str(refused.value)


async def test_a_batch_line_the_api_would_refuse_is_an_error_line_and_counts_never_go_down(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    def item(custom_id: str, **extra: Any) -> str:
        body = {"model": "gpt-4o-mini", "messages": HI} | extra
        return json.dumps({"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body})

    payload = "\n".join([item("ok-1"), item("hot", temperature=5), item("ok-2")]).encode()
    uploaded = await client.files.create(file=("in.jsonl", payload), purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
    )
    seen: list[tuple[str, int, int]] = []
    for step in [VALIDATING_S, *[1 / REQUESTS_PER_S] * 3, FINALIZING_S / 2, FINALIZING_S]:
        emulator.clock.advance(step)
        now = await client.batches.retrieve(batch.id)
        assert now.request_counts is not None
        seen.append((now.status, now.request_counts.completed, now.request_counts.failed))
    assert seen[-1] == ("completed", 2, 1)
    for (_, done_before, failed_before), (_, done, failed) in itertools.pairwise(seen):
        assert done >= done_before, seen
        assert failed >= failed_before, seen
    assert ("finalizing", 2, 1) in seen

    done = await client.batches.retrieve(batch.id)
    assert done.error_file_id
    assert done.output_file_id
    assert done.completed_at
    content = await client.files.content(done.error_file_id)
    errors = [json.loads(raw) for raw in content.text.splitlines()]
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("hot", 400)]
    assert errors[0]["response"]["body"]["error"]["param"] == "temperature"
    for file_id in (done.output_file_id, done.error_file_id):
        assert (await client.files.retrieve(file_id)).created_at <= done.completed_at


async def test_dimensions_above_the_models_own_are_refused_not_computed(
    http: aiohttp.ClientSession,
) -> None:
    body = {"model": "text-embedding-3-small", "input": "x", "dimensions": 1_175_152_959}
    async with http.post("embeddings", json=body) as response:
        assert response.status == 400
        assert (await _error(response))["param"] == "dimensions"
    async with http.post("embeddings", json=body | {"dimensions": 8.0}) as response:
        assert len((await response.json())["data"][0]["embedding"]) == 8


async def test_whole_numbers_written_as_floats_are_integers_as_json_schema_says(
    http: aiohttp.ClientSession,
) -> None:
    body = {"model": "gpt-4o-mini", "messages": HI, "n": 2.0, "max_tokens": 50.0}
    async with http.post("chat/completions", json=body) as response:
        assert response.status == 200
        assert len((await response.json())["choices"]) == 2


async def test_an_unknown_batch_create_argument_is_refused_by_name(
    client: openai.AsyncOpenAI,
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument") as refused:
        await client.batches.create(
            input_file_id=uploaded.id,
            endpoint=CHAT,
            completion_window="24h",
            extra_body={"priority": "high"},
        )
    assert refused.value.param == "priority"
