"""Anthropic emulator replies read with the official `anthropic` SDK's types, strictly.

Strictly means pydantic's strict mode (no coercion: a number sent as a string fails) and no
field the SDK does not know, anywhere (the SDK's models keep unknown fields as extras rather
than refusing them, so the test looks for extras itself).

Anthropic validates a batch's `params` only when each request is processed: "Validation of
the params object for each message request is performed asynchronously, and validation errors
are returned when processing of the entire batch has ended" (Message Batches guide,
https://platform.claude.com/docs/en/build-with-claude/batch-processing). So a create with
`max_tokens: 0`, no messages or `stream: true` in a request is accepted, and those requests
end `errored` with an `invalid_request_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
import msgspec
import pydantic
import pytest
from anthropic.types import ErrorResponse, Message
from anthropic.types.messages import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
)
from batchery_anthropic.emulator import REQUESTS_PER_S, START_S, AnthropicEmulator

M = TypeVar("M", bound=pydantic.BaseModel)
HEADERS = {"x-api-key": "sk-ant-types", "anthropic-version": "2023-06-01"}
VALID = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def strictly(model: type[M], raw: bytes) -> M:
    """`raw` JSON as `model` in strict mode; a field the SDK does not know fails the test."""
    parsed = model.model_validate_json(raw, strict=True)
    _no_extras(parsed, model.__name__)
    return parsed


def _no_extras(value: Any, where: str) -> None:
    if isinstance(value, pydantic.BaseModel):
        assert not value.model_extra, f"{where}: fields the SDK does not know: {value.model_extra}"
        for name in type(value).model_fields:
            _no_extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_extras(item, f"{where}[{index}]")


@pytest.fixture
async def emulator() -> AsyncIterator[AnthropicEmulator]:
    async with AnthropicEmulator() as emu:
        yield emu


@pytest.fixture
async def http(emulator: AnthropicEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.root_url + "/v1/", headers=HEADERS) as session:
        yield session


async def _raw(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> bytes:
    async with http.request(method, path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.read()


async def test_invalid_params_are_accepted_at_create_and_each_request_ends_errored(
    emulator: AnthropicEmulator, http: aiohttp.ClientSession
) -> None:
    requests = [
        {"custom_id": "ok", "params": VALID},
        {"custom_id": "zero", "params": VALID | {"max_tokens": 0}},
        {"custom_id": "empty", "params": VALID | {"messages": []}},
        {"custom_id": "stream", "params": VALID | {"stream": True}},
    ]
    created = strictly(
        MessageBatch, await _raw(http, "POST", "messages/batches", {"requests": requests})
    )
    assert created.processing_status == "in_progress"
    emulator.clock.advance(START_S + len(requests) / REQUESTS_PER_S + 1)
    ended = strictly(MessageBatch, await _raw(http, "GET", f"messages/batches/{created.id}"))
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (1, 3)
    lines = (await _raw(http, "GET", f"messages/batches/{created.id}/results")).splitlines()
    results = {
        r.custom_id: r.result
        for r in (strictly(MessageBatchIndividualResponse, line) for line in lines)
    }
    assert results["ok"].type == "succeeded"
    for custom_id in ("zero", "empty", "stream"):
        errored = results[custom_id]
        assert errored.type == "errored", custom_id
        assert errored.error.error.type == "invalid_request_error", custom_id


async def test_every_reply_fits_the_sdk_types_strictly(
    emulator: AnthropicEmulator, http: aiohttp.ClientSession
) -> None:
    strictly(Message, await _raw(http, "POST", "messages", VALID))
    body = {"requests": [{"custom_id": "a", "params": VALID}, {"custom_id": "b", "params": VALID}]}
    created = strictly(MessageBatch, await _raw(http, "POST", "messages/batches", body))
    canceling = strictly(
        MessageBatch, await _raw(http, "POST", f"messages/batches/{created.id}/cancel")
    )
    assert canceling.processing_status == "canceling"
    listed = msgspec.json.decode(await _raw(http, "GET", "messages/batches"))
    for item in listed["data"]:
        strictly(MessageBatch, msgspec.json.encode(item))
    emulator.clock.advance(3600)
    ended = strictly(MessageBatch, await _raw(http, "GET", f"messages/batches/{created.id}"))
    assert ended.results_url is not None
    for line in (await _raw(http, "GET", f"messages/batches/{created.id}/results")).splitlines():
        strictly(MessageBatchIndividualResponse, line)
    strictly(DeletedMessageBatch, await _raw(http, "DELETE", f"messages/batches/{created.id}"))
    async with http.get(f"messages/batches/{created.id}") as response:
        assert response.status == 404
        strictly(ErrorResponse, await response.read())
