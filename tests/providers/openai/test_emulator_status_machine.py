"""The batch status machine through each terminal state, driven by jumps of the emulated clock."""

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import (
    CANCELLING_S,
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
    OpenAIEmulator,
)

CHAT = "/v1/chat/completions"


def line(custom_id: str, **body: Any) -> dict[str, Any]:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": custom_id}]}
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": payload | body}


def jsonl(items: list[Any]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=1.0)) as emu:
        yield emu


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=emulator.base_url, api_key="sk-test", max_retries=0
    ) as sdk:
        yield sdk


async def submit(client: openai.AsyncOpenAI, payload: bytes, **kwargs: Any) -> Any:
    uploaded = await client.files.create(file=("in.jsonl", payload), purpose="batch")
    return await client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h", **kwargs
    )


async def lines_of(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    content = await client.files.content(file_id)
    return [json.loads(raw) for raw in content.text.splitlines()]


async def test_completes_with_every_answer_and_growing_counts(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    batch = await submit(client, jsonl([line(f"q-{i}") for i in range(10)]), metadata={"k": "v"})
    assert batch.status == "validating"
    assert batch.id.startswith("batch_")
    assert batch.expires_at == batch.created_at + WINDOW_S
    assert batch.metadata == {"k": "v"}

    emulator.clock.advance(VALIDATING_S + 4 / REQUESTS_PER_S)
    running = await client.batches.retrieve(batch.id)
    assert running.status == "in_progress"
    assert running.request_counts is not None
    assert running.request_counts.total == 10
    assert running.request_counts.completed == 4
    assert running.output_file_id is None

    emulator.clock.advance(6 / REQUESTS_PER_S)
    assert (await client.batches.retrieve(batch.id)).status == "finalizing"
    emulator.clock.advance(FINALIZING_S)
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.model == "gpt-4o-mini"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (10, 0)
    assert done.error_file_id is None
    assert done.usage is not None
    assert done.usage.total_tokens > 0
    stamps = [done.created_at, done.in_progress_at, done.finalizing_at, done.completed_at]
    assert stamps == sorted(stamps)
    results = await lines_of(client, done.output_file_id)
    assert sorted(r["custom_id"] for r in results) == sorted(f"q-{i}" for i in range(10))
    for result in results:
        assert result["id"].startswith("batch_req_")
        assert result["error"] is None
        assert result["response"]["status_code"] == 200
        body = result["response"]["body"]
        assert body["id"].startswith("chatcmpl-")
        assert result["custom_id"] in body["choices"][0]["message"]["content"]
    output = await client.files.retrieve(done.output_file_id or "")
    assert output.purpose == "batch_output"


async def test_a_jump_past_everything_gives_a_consistent_history(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    batch = await submit(client, jsonl([line(f"q-{i}") for i in range(3)]))
    emulator.clock.advance(2 * WINDOW_S)
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.completed_at is not None
    assert done.completed_at < batch.created_at + 100


@pytest.mark.parametrize(
    ("items", "code", "line_no"),
    [
        ([line("a"), "not json"], "invalid_json_line", 2),
        ([line("a"), line("a")], "duplicate_custom_id", 2),
        ([line("a"), {**line("b"), "url": "/v1/embeddings"}], "url_mismatch", 2),
        ([line("a"), line("b", model="gpt-4o")], "model_mismatch", 2),
        ([{**line("a"), "method": "GET"}], "invalid_method", 1),
        ([{"custom_id": "a", "method": "POST", "url": CHAT, "body": {}}], None, 1),
        ([{"custom_id": "a", "url": CHAT, "body": {"model": "m"}}], "invalid_request", 1),
    ],
)
async def test_bad_input_fails_validation_with_line_errors(
    emulator: OpenAIEmulator,
    client: openai.AsyncOpenAI,
    items: list[Any],
    code: str | None,
    line_no: int,
) -> None:
    payload = b"".join(
        (item if isinstance(item, str) else json.dumps(item)).encode() + b"\n" for item in items
    )
    batch = await submit(client, payload)
    emulator.clock.advance(VALIDATING_S)
    failed = await client.batches.retrieve(batch.id)
    assert failed.status == "failed"
    assert failed.failed_at == batch.created_at + VALIDATING_S
    assert failed.output_file_id is None
    assert failed.error_file_id is None
    assert failed.errors is not None
    assert failed.errors.data
    error = failed.errors.data[0]
    assert error.code == (code or "missing_required_parameter")
    assert error.line == line_no
    assert error.message


async def test_too_many_requests_and_empty_files_fail(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    big = await submit(client, jsonl([line(f"q-{i}") for i in range(50_001)]))
    empty = await submit(client, b"")
    emulator.clock.advance(VALIDATING_S)
    assert (await client.batches.retrieve(big.id)).errors.data[0].code == "too_many_tasks"  # type: ignore[union-attr]
    assert (await client.batches.retrieve(empty.id)).errors.data[0].code == "empty_file"  # type: ignore[union-attr]


async def test_cancel_keeps_partial_output_and_is_idempotent(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    batch = await submit(client, jsonl([line(f"q-{i}") for i in range(20)]))
    emulator.clock.advance(VALIDATING_S + 8 / REQUESTS_PER_S)
    cancelling = await client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling"
    again = await client.batches.cancel(batch.id)
    assert again.status == "cancelling"
    assert again.cancelling_at == cancelling.cancelling_at
    emulator.clock.advance(CANCELLING_S)
    cancelled = await client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == (cancelling.cancelling_at or 0) + CANCELLING_S
    assert (await client.batches.cancel(batch.id)).status == "cancelled"
    done = await lines_of(client, cancelled.output_file_id)
    unrun = await lines_of(client, cancelled.error_file_id)
    assert len(done) == 8
    assert {r["error"]["code"] for r in unrun} == {"batch_cancelled"}
    assert {r["custom_id"] for r in done} | {r["custom_id"] for r in unrun} == {
        f"q-{i}" for i in range(20)
    }
    assert cancelled.request_counts is not None
    assert (cancelled.request_counts.completed, cancelled.request_counts.failed) == (8, 12)


async def test_cancel_while_validating_and_after_completion(
    emulator: OpenAIEmulator, client: openai.AsyncOpenAI
) -> None:
    early = await submit(client, jsonl([line("a"), line("b")]))
    assert (await client.batches.cancel(early.id)).status == "cancelling"
    emulator.clock.advance(WINDOW_S)
    cancelled = await client.batches.retrieve(early.id)
    assert cancelled.status == "cancelled"
    assert cancelled.output_file_id is None
    finished = await submit(client, jsonl([line("a")]))
    emulator.clock.advance(WINDOW_S)
    with pytest.raises(openai.BadRequestError, match="Cannot cancel"):
        await client.batches.cancel(finished.id)


async def test_expiry_keeps_partial_output() -> None:
    options = EmulatorOptions(time_scale=1.0, faults="batch_expire")
    async with (
        OpenAIEmulator(options) as emulator,
        openai.AsyncOpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as client,
    ):
        batch = await submit(client, jsonl([line(f"q-{i}") for i in range(10)]))
        emulator.clock.advance(3600)
        stalled = await client.batches.retrieve(batch.id)
        assert stalled.status == "in_progress"
        assert stalled.request_counts is not None
        assert stalled.request_counts.completed == 5
        emulator.clock.advance(WINDOW_S)
        expired = await client.batches.retrieve(batch.id)
        assert expired.status == "expired"
        assert expired.expired_at == expired.expires_at
        done = await lines_of(client, expired.output_file_id)
        unrun = await lines_of(client, expired.error_file_id)
        assert [r["custom_id"] for r in done] == [f"q-{i}" for i in range(5)]
        assert [r["error"]["code"] for r in unrun] == ["batch_expired"] * 5


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"endpoint": "/v1/completions"}, "endpoint"),
        ({"input_file_id": "file-missing"}, None),
    ],
)
async def test_create_rejects_invalid_parameters(
    client: openai.AsyncOpenAI, kwargs: dict[str, Any], param: str | None
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", jsonl([line("a")])), purpose="batch")
    args: dict[str, Any] = {
        "input_file_id": uploaded.id,
        "endpoint": CHAT,
        "completion_window": "24h",
    }
    error: type[openai.APIStatusError] = openai.BadRequestError
    if param is None:
        error = openai.NotFoundError
    with pytest.raises(error) as caught:
        await client.batches.create(**(args | kwargs))
    if param is not None:
        assert caught.value.param == param  # type: ignore[attr-defined]


async def test_metadata_at_the_limits_is_accepted(client: openai.AsyncOpenAI) -> None:
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    batch = await submit(client, jsonl([line("a")]), metadata=metadata)
    assert batch.metadata == metadata
