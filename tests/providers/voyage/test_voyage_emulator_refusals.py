"""The Voyage emulator refuses what Voyage refuses and ends an expired batch as Voyage documents.

Voyage's Files and Batches share OpenAI's shapes through the emulator kit, so a body that is
not multipart is a 400 in Voyage's `{"detail": …}` shape, not a server error; a batch whose
window ran out ends `completed` (Voyage documents no other ending) with its partial results.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from batchery.spi import EmulatorOptions
from batchery_voyage.emulator import FINALIZING_S, WINDOW_S, VoyageEmulator

AUTH = {"Authorization": "Bearer pa-test"}


@pytest.fixture
async def http() -> AsyncIterator[tuple[VoyageEmulator, aiohttp.ClientSession]]:
    async with (
        VoyageEmulator(EmulatorOptions(faults="batch_expire")) as emulator,
        aiohttp.ClientSession(emulator.base_url + "/", headers=AUTH) as session,
    ):
        yield emulator, session


@pytest.mark.parametrize("body", [{"data": b""}, {"json": {"purpose": "batch"}}])
async def test_an_upload_that_is_not_multipart_is_a_400_in_voyages_shape(
    http: tuple[VoyageEmulator, aiohttp.ClientSession], body: dict[str, Any]
) -> None:
    _, session = http
    async with session.post("files", **body) as response:
        assert (response.status, response.content_type) == (400, "application/json")
        assert "multipart/form-data" in (await response.json())["detail"]


async def test_a_batch_out_of_time_ends_completed_with_its_partial_results(
    http: tuple[VoyageEmulator, aiohttp.ClientSession],
) -> None:
    emulator, session = http
    form = aiohttp.FormData()
    form.add_field("purpose", "batch")
    lines = b"".join(
        msgspec.json.encode({"custom_id": f"c-{i}", "body": {"input": [f"text {i}"]}}) + b"\n"
        for i in range(4)
    )
    form.add_field("file", lines, filename="in.jsonl")
    async with session.post("files", data=form) as response:
        file_id = (await response.json())["id"]
    create = {
        "input_file_id": file_id,
        "endpoint": "/v1/embeddings",
        "completion_window": "12h",
        "request_params": {"model": "voyage-3.5"},
    }
    async with session.post("batches", json=create) as response:
        batch_id = (await response.json())["id"]
    emulator.clock.advance(WINDOW_S + FINALIZING_S + 1)
    async with session.get(f"batches/{batch_id}") as response:
        batch = await response.json()
    assert batch["status"] == "completed"
    assert "partially_completed_at" not in batch
    assert batch["finalizing_at"] == batch["expected_completion_at"]
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    completed = datetime.fromisoformat(batch["completed_at"])
    for key in ("output_file_id", "error_file_id"):
        async with session.get(f"files/{batch[key]}") as response:
            kept = await response.json()
        assert datetime.fromisoformat(kept["created_at"]) <= completed
    async with session.get(f"files/{batch['error_file_id']}/content") as response:
        errors = [msgspec.json.decode(line) for line in (await response.read()).splitlines()]
    assert {line["error"]["code"] for line in errors} == {"batch_expired"}


async def test_a_line_with_refused_data_is_failed_from_the_start_so_counts_never_go_down() -> None:
    async with (
        VoyageEmulator(EmulatorOptions()) as emulator,
        aiohttp.ClientSession(emulator.base_url + "/", headers=AUTH) as session,
    ):
        bodies = [{"input": ["one"]}, {"input": [""]}, {"input": ["three"]}]
        lines = b"".join(
            msgspec.json.encode({"custom_id": f"c-{i}", "body": body}) + b"\n"
            for i, body in enumerate(bodies)
        )
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", lines, filename="in.jsonl")
        async with session.post("files", data=form) as response:
            file_id = (await response.json())["id"]
        create = {
            "input_file_id": file_id,
            "endpoint": "/v1/embeddings",
            "completion_window": "12h",
            "request_params": {"model": "voyage-3.5"},
        }
        async with session.post("batches", json=create) as response:
            batch_id = (await response.json())["id"]
        seen: list[tuple[int, int]] = []
        for _ in range(12):
            emulator.clock.advance(5)
            async with session.get(f"batches/{batch_id}") as response:
                counts = (await response.json())["request_counts"]
            seen.append((counts["completed"], counts["failed"]))
    assert seen[-1] == (2, 1)
    for (done_before, failed_before), (done, failed) in itertools.pairwise(seen):
        assert done >= done_before, seen
        assert failed >= failed_before, seen
