"""`ProgressBus` sinks: called after the commit, in order, and never able to break a run."""

from __future__ import annotations

from pathlib import Path

import msgspec
from batchery.events import ModeChosen, RunEvent, decode_event
from batchery.progress import ProgressBus
from batchery.store import SqliteJobStore


async def test_sinks_see_committed_events_and_a_failing_sink_is_contained(
    tmp_path: Path,
) -> None:
    store = SqliteJobStore(str(tmp_path / "jobs.db"))
    await store.open()
    try:
        bus = ProgressBus(store)
        seen: list[tuple[RunEvent, bytes, int]] = []

        async def record(event: RunEvent, body: bytes) -> None:
            logged = await store.events("run_1", after_seq=event.seq - 1)
            seen.append((event, body, logged[0][0] if logged else 0))

        async def broken(event: RunEvent, body: bytes) -> None:
            raise RuntimeError("the backend is down")

        bus.add_sink(broken)
        bus.add_sink(record)
        async with bus.subscribe() as queue:
            for n in range(3):
                await bus.emit("run_1", ModeChosen, mode="batch", reason=f"r{n}")
            assert queue.qsize() == 3
        bus.remove_sink(record)
        await bus.emit("run_1", ModeChosen, mode="batch", reason="after")
    finally:
        await store.close()

    assert [event.seq for event, _, _ in seen] == [1, 2, 3]
    assert all(committed == event.seq for event, _, committed in seen)
    assert all(decode_event(body) == event for event, body, _ in seen)
    assert msgspec.json.decode(seen[0][1])["type"] == "mode_chosen"
