"""The mode policy: small goes realtime, otherwise the cheapest mode that meets the deadline."""

from __future__ import annotations

import pytest
from batchery.model import Mode, RequestKind
from batchery.service.policy import (
    PRIOR_BATCH_TURNAROUND_S,
    Workload,
    batch_turnaround,
    decide,
    hybrid_slice,
)


def work(
    count: int = 100,
    *,
    deadline_s: float | None = None,
    turnaround_s: float = 600.0,
    latency_s: float = 1.0,
    concurrency: int = 10,
    rps: float | None = None,
) -> Workload:
    return Workload(
        count=count,
        kind=RequestKind.CHAT,
        input_tokens=count * 100,
        output_tokens=count * 50,
        realtime_cost_usd=1.0,
        batch_cost_usd=0.5,
        batch_turnaround_s=turnaround_s,
        latency_s=latency_s,
        concurrency=concurrency,
        requests_per_s=rps,
        deadline_s=deadline_s,
    )


def test_a_small_workload_goes_realtime() -> None:
    decision = decide(work(5), Mode.AUTO, threshold=20)

    assert decision.mode is Mode.REALTIME
    assert decision.reason == "5 requests < batch threshold 20"


def test_without_a_deadline_batch_is_cheapest() -> None:
    decision = decide(work(100), Mode.AUTO, threshold=20)

    assert decision.mode is Mode.BATCH
    batch, realtime = decision.estimates
    assert (batch.mode, batch.cost_usd, realtime.mode, realtime.cost_usd) == (
        "batch",
        0.5,
        "realtime",
        1.0,
    )


def test_batch_is_kept_when_its_turnaround_meets_the_deadline() -> None:
    decision = decide(work(100, deadline_s=3600, turnaround_s=600), Mode.AUTO, threshold=20)

    assert decision.mode is Mode.BATCH
    assert "meets the 3600s deadline" in decision.reason


def test_realtime_wins_when_batch_would_miss_the_deadline() -> None:
    decision = decide(work(100, deadline_s=60, turnaround_s=600), Mode.AUTO, threshold=20)

    assert decision.mode is Mode.REALTIME
    batch, realtime = decision.estimates
    assert not batch.meets_deadline
    assert realtime.meets_deadline
    assert realtime.finish_s == 10.0  # 100 calls, 10 at a time, 1 s each


def test_rate_limits_bound_the_realtime_estimate() -> None:
    decision = decide(work(600, deadline_s=60, turnaround_s=6000, rps=5.0), Mode.AUTO, threshold=20)

    assert decision.estimates[1].finish_s == 120.0
    assert decision.reason.startswith("no mode meets the 60s deadline; realtime is fastest")


def test_an_explicit_mode_is_honoured_with_estimates() -> None:
    decision = decide(work(5, deadline_s=1), Mode.BATCH, threshold=20)

    assert decision.mode is Mode.BATCH
    assert decision.reason == "batch mode was requested"
    assert len(decision.estimates) == 2


@pytest.mark.parametrize(
    ("batch", "realtime", "mode"), [(False, True, Mode.REALTIME), (True, False, Mode.BATCH)]
)
def test_a_provider_with_one_path_gets_that_path(batch: bool, realtime: bool, mode: Mode) -> None:
    assert decide(work(5), Mode.AUTO, threshold=20, batch=batch, realtime=realtime).mode is mode


def test_nothing_left_to_send_says_so() -> None:
    assert "nothing left to send" in decide(work(0), Mode.AUTO, threshold=20).reason


def test_turnaround_is_cautious() -> None:
    assert batch_turnaround([], 100) == PRIOR_BATCH_TURNAROUND_S
    assert batch_turnaround([(100, 10.0), (100, 30.0)], 100) == 30.0
    assert batch_turnaround([(100, 10.0)] * 4 + [(100, 100.0)], 100) > 10.0


def test_turnaround_comes_from_batches_of_a_similar_size() -> None:
    seen = [(10, 1.0), (200, 3.0), (1000, 9.0)]

    assert batch_turnaround(seen, 200) == 3.0
    assert batch_turnaround(seen, 1000) == 9.0
    assert batch_turnaround(seen, 100_000) == 9.0  # nothing similar: all history counts


def test_the_hybrid_slice_is_small_and_never_the_whole_job() -> None:
    assert hybrid_slice(1000, 20) == 20
    assert hybrid_slice(10, 20) == 5
