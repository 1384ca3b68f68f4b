"""The result cache and the run history on either store, each kept per endpoint, and the cost
report that leaves emulators out unless asked."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import msgspec
from batchery.model import Endpoint, LlmResult, Mode
from batchery.store import CostRow, JobStore, RunSpend

from .records import chunk, failed, job, ok, planned

REAL = Endpoint(provider="openai")
EMULATED = Endpoint(provider="openai", base_url="http://127.0.0.1:9/v1", emulated=True)


async def test_cached_answers_are_found_by_key_and_replaced(store: JobStore) -> None:
    await store.cache.put_many(
        [(f"{REAL.key}|k", ok("a", "real")), ("missing-later", ok("b"))], endpoint=REAL
    )
    await store.cache.put_many([(f"{EMULATED.key}|k", ok("a", "emulated"))], endpoint=EMULATED)
    await store.cache.put_many([(f"{REAL.key}|k", ok("a", "newer"))], endpoint=REAL)

    found = await store.cache.get_many([f"{REAL.key}|k", f"{EMULATED.key}|k", "never"])

    assert {key: r.text for key, r in found.items()} == {
        f"{REAL.key}|k": "newer",
        f"{EMULATED.key}|k": "emulated",
    }
    assert await store.cache.get_many([]) == {}


async def test_a_jobs_answers_are_cached_under_its_ledger_keys_by_chunk_or_mode(
    store: JobStore,
) -> None:
    keys = ["k-0", "k-1", "k-1", None, "k-4", "k-5"]
    ledger = [
        msgspec.structs.replace(p, cache_key=key, chunk=0 if i < 3 else 1)
        for i, (p, key) in enumerate(zip(planned(6), keys, strict=True))
    ]
    await store.create_job(job(total=6), ledger, [chunk(index=0), chunk(index=1)])
    lease = await store.claim("run_1", "me", lease_s=30)
    late = LlmResult(custom_id="r5", ok=True, provider="openai", mode=Mode.REALTIME, text="late")
    answers = [ok("r0"), ok("r1", "first"), ok("r2", "second"), ok("r3"), ok("r4", cached=True)]
    await store.save_results(lease, [*answers, late])

    in_chunk = await store.cache.remember_job("run_1", endpoint=REAL, chunk_id="run_1-0")
    realtime = await store.cache.remember_job("run_1", endpoint=REAL, mode=Mode.REALTIME)
    found = await store.cache.get_many(["k-0", "k-1", "k-4", "k-5"])

    assert (in_chunk, realtime) in ((2, 1), (3, 1))
    assert {key: r.text for key, r in found.items()} == {
        "k-0": "answer",
        "k-1": found["k-1"].text,
        "k-5": "late",
    }
    assert found["k-1"].text in ("first", "second")


async def test_failed_answers_are_never_cached(store: JobStore) -> None:
    ledger = [msgspec.structs.replace(p, cache_key=f"k-{i}") for i, p in enumerate(planned(2))]
    await store.create_job(job(total=2), ledger, [chunk(count=2)])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.save_results(lease, [ok("r0"), failed("r1", retryable=False)])

    assert await store.cache.remember_job("run_1", endpoint=REAL) == 1
    assert list(await store.cache.get_many(["k-0", "k-1"])) == ["k-0"]


async def test_pruning_drops_only_older_entries(store: JobStore) -> None:
    await store.cache.put_many([("old", ok("a"))], endpoint=REAL)
    cutoff = time.time()
    await asyncio.sleep(0.01)
    await store.cache.put_many([("new", ok("b"))], endpoint=REAL)

    assert await store.cache.prune(cutoff) == 1

    assert list(await store.cache.get_many(["old", "new"])) == ["new"]


async def test_turnarounds_speak_only_for_their_endpoint_and_model(store: JobStore) -> None:
    await store.history.record_turnaround(REAL, "m", 100, 600.0)
    await store.history.record_turnaround(EMULATED, "m", 100, 2.0)
    await store.history.record_turnaround(REAL, None, 5, 60.0)
    await store.history.record_turnaround(REAL, "m", 200, 900.0)

    assert await store.history.turnarounds(REAL, "m") == [(200, 900.0), (100, 600.0)]
    assert await store.history.turnarounds(REAL, "m", limit=1) == [(200, 900.0)]
    assert await store.history.turnarounds(EMULATED, "m") == [(100, 2.0)]
    assert await store.history.turnarounds(REAL, None) == [(5, 60.0)]
    assert await store.history.turnarounds(REAL, "other") == []


async def _spend(store: JobStore, job_id: str, endpoint: Endpoint | None, cost: float) -> None:
    await store.create_job(job(job_id), planned(2), [chunk(job_id, count=2)])
    lease = await store.claim(job_id, "me", lease_s=30)
    if endpoint is not None:
        await store.set_endpoint(lease, endpoint)
    await store.save_results(
        lease,
        [
            ok("r0", model="m", cost_usd=cost, realtime_cost_usd=2 * cost),
            ok("r1", model="m", cost_usd=0.0, realtime_cost_usd=cost, cached=True),
        ],
    )


async def test_the_cost_report_groups_spend_by_endpoint_and_leaves_emulators_out(
    store: JobStore,
) -> None:
    await _spend(store, "run_real", REAL, 1.0)
    await _spend(store, "run_emulated", EMULATED, 0.5)
    await _spend(store, "run_old", None, 0.25)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    row = {"provider": "openai", "model": "m", "mode": "batch", "day": day, "requests": 2}

    real = await store.history.cost_report()
    everything = await store.history.cost_report(emulated=True)

    unrecorded = CostRow(**row, cost_usd=0.25, realtime_cost_usd=0.75, cached=1, recorded=False)
    public = CostRow(**row, cost_usd=1.0, realtime_cost_usd=3.0, cached=1)
    emulator = CostRow(
        **row,
        cost_usd=0.5,
        realtime_cost_usd=1.5,
        cached=1,
        base_url=EMULATED.base_url,
        emulated=True,
    )
    assert sorted(real, key=repr) == sorted([unrecorded, public], key=repr)
    assert sorted(everything, key=repr) == sorted([unrecorded, public, emulator], key=repr)
    assert await store.history.cost_report(since=time.time() + 60) == []


async def test_spend_by_run_sums_each_run_under_the_chosen_key_in_the_store(
    store: JobStore,
) -> None:
    await _spend(store, "run_a", REAL, 1.0)
    await _spend(store, "run_b", EMULATED, 0.5)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")

    by_day = await store.history.spend_by_run("day")
    by_model = await store.history.spend_by_run("model")
    by_mode = await store.history.spend_by_run("mode")

    row = {"requests": 2, "cached": 1}
    assert by_day == [
        RunSpend(run_id="run_a", key=day, cost_usd=1.0, realtime_cost_usd=3.0, **row),
        RunSpend(run_id="run_b", key=day, cost_usd=0.5, realtime_cost_usd=1.5, **row),
    ]
    assert [(s.run_id, s.key) for s in by_model] == [("run_a", "m"), ("run_b", "m")]
    assert {s.key for s in by_mode} == {"batch"}
    assert [s.key for s in await store.history.spend_by_run("provider")] == ["openai"] * 2
    assert await store.history.spend_by_run("day", since=time.time() + 60) == []
