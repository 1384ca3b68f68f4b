"""Either store keeps everything across a close and a fresh open: the job, its lease, its
results, and an event log that goes on from where it was."""

from __future__ import annotations

import pytest
from batchery.store import JobHeldError, open_store

from .records import chunk, job, ok, planned


async def test_a_reopened_store_has_what_was_written(store_url: str) -> None:
    first = open_store(store_url)
    await first.open()
    await first.create_job(job(fingerprint="fp"), planned(), [chunk()])
    lease = await first.claim("run_1", "a", lease_s=30)
    await first.save_results(lease, [ok("r0")])
    await first.append_event("run_1", lambda n: b"%d" % n, lease=lease)
    await first.close()

    again = open_store(store_url)
    await again.open()
    try:
        found = await again.find_job("fp")
        assert found is not None
        assert found.id == "run_1"
        assert [r.custom_id async for r in again.results("run_1")] == ["r0"]
        with pytest.raises(JobHeldError):
            await again.claim("run_1", "b", lease_s=30)
        assert await again.append_event("run_1", lambda n: b"%d" % n, lease=lease) == 2
        assert await again.events("run_1") == [(1, b"1"), (2, b"2")]
    finally:
        await again.close()
