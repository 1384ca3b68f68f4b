"""Choose batch, realtime or hybrid for a workload, and say why, with both options' estimates.

The rule is simple on purpose, so a person can predict it: tiny workloads go realtime (a batch
saves little and answers late); otherwise the cheapest mode that meets the deadline wins
(batch, at its discount), and when nothing meets the deadline the fastest does. Batch finish
times come from the turnaround observed for this provider and model, with a cautious prior
until there is history; realtime finish times from concurrency, rate limits and call latency.
"""

from __future__ import annotations

import math
import statistics

import msgspec

from batchery.events import ModeEstimate
from batchery.model import Mode, RequestKind

__all__ = [
    "PRIOR_BATCH_TURNAROUND_S",
    "PRIOR_LATENCY_S",
    "ModeDecision",
    "Workload",
    "batch_turnaround",
    "decide",
    "hybrid_slice",
    "realtime_seconds",
]

PRIOR_BATCH_TURNAROUND_S = 3600.0
"""Until a provider and model have history, a batch is assumed to take an hour."""

PRIOR_LATENCY_S: dict[RequestKind, float] = {
    RequestKind.CHAT: 2.0,
    RequestKind.EMBEDDING: 0.3,
    RequestKind.CONTEXTUAL_EMBEDDING: 0.5,
    RequestKind.RERANK: 0.3,
}

_TURNAROUND_SAFETY = 1.25


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    """What the policy knows about a workload before anything is sent."""

    count: int
    kind: RequestKind
    input_tokens: int
    output_tokens: int
    realtime_cost_usd: float | None
    batch_cost_usd: float | None
    batch_turnaround_s: float
    latency_s: float
    concurrency: int
    requests_per_s: float | None = None
    deadline_s: float | None = None


class ModeDecision(msgspec.Struct, frozen=True, kw_only=True):
    mode: Mode
    reason: str
    estimates: list[ModeEstimate]


def batch_turnaround(observed: list[tuple[int, float]], count: int) -> float:
    """A cautious estimate for a batch of `count` from recent (size, seconds) observations.

    Batches of a similar size (within a factor of four) speak for it when there are any;
    then the upper quartile of their times, or the slowest of fewer than four; else the prior.
    """
    similar = [s for n, s in observed if count / 4 <= n <= count * 4] or [s for _, s in observed]
    if not similar:
        return PRIOR_BATCH_TURNAROUND_S
    if len(similar) < 4:
        return max(similar)
    return statistics.quantiles(similar, n=4)[2]


def realtime_seconds(
    count: int, *, concurrency: int, latency_s: float, requests_per_s: float | None
) -> float:
    """How long `count` calls take: rounds of `concurrency` calls, or the rate limit if slower."""
    by_concurrency = math.ceil(count / max(1, concurrency)) * latency_s
    by_rate = count / requests_per_s if requests_per_s else 0.0
    return max(by_concurrency, by_rate)


def hybrid_slice(count: int, threshold: int) -> int:
    """How many requests the realtime slice of a hybrid run takes: enough to see answers early."""
    return min(count // 2, max(1, threshold))


def decide(
    work: Workload, requested: Mode, *, threshold: int, batch: bool = True, realtime: bool = True
) -> ModeDecision:
    """The mode for `work`; `requested` other than auto is honoured, still with estimates."""
    realtime_s = realtime_seconds(
        work.count,
        concurrency=work.concurrency,
        latency_s=work.latency_s,
        requests_per_s=work.requests_per_s,
    )
    batch_s = work.batch_turnaround_s * _TURNAROUND_SAFETY
    deadline = work.deadline_s
    estimates = [
        ModeEstimate(
            mode=Mode.BATCH,
            cost_usd=work.batch_cost_usd,
            finish_s=round(batch_s, 3),
            meets_deadline=deadline is None or batch_s <= deadline,
        ),
        ModeEstimate(
            mode=Mode.REALTIME,
            cost_usd=work.realtime_cost_usd,
            finish_s=round(realtime_s, 3),
            meets_deadline=deadline is None or realtime_s <= deadline,
        ),
    ]
    batch_fits, realtime_fits = (e.meets_deadline for e in estimates)

    def chosen(mode: Mode, reason: str) -> ModeDecision:
        return ModeDecision(mode=mode, reason=reason, estimates=estimates)

    if work.count == 0:
        return chosen(
            Mode.REALTIME if requested is Mode.AUTO else requested,
            "nothing left to send: every request was answered from the cache or refused",
        )
    if requested is not Mode.AUTO:
        return chosen(requested, f"{requested} mode was requested")
    if not batch:
        return chosen(Mode.REALTIME, "the provider has no batch API")
    if not realtime:
        return chosen(Mode.BATCH, "the provider has no realtime API")
    if work.count < threshold:
        return chosen(Mode.REALTIME, f"{work.count} requests < batch threshold {threshold}")
    if deadline is None:
        return chosen(
            Mode.BATCH,
            f"{work.count} requests >= batch threshold {threshold} and no"
            " deadline: batch is cheapest",
        )
    if batch_fits:
        return chosen(
            Mode.BATCH,
            f"batch is cheapest and its expected {batch_s:.0f}s meets the {deadline:.0f}s deadline",
        )
    if realtime_fits:
        return chosen(
            Mode.REALTIME,
            f"batch's expected {batch_s:.0f}s misses the {deadline:.0f}s"
            f" deadline; realtime takes about {realtime_s:.0f}s",
        )
    return chosen(
        Mode.REALTIME,
        f"no mode meets the {deadline:.0f}s deadline; realtime is"
        f" fastest at about {realtime_s:.0f}s",
    )
