"""What a node writes into graph state about its run, as plain dicts and lists.

Graph state outlives the call: LangGraph's checkpointers keep it with their default serializer
and streams hand it to JSON. Only builtins survive both unchanged, so the reports are
`TypedDict`s; msgspec stays at Batchery's own boundaries and is converted here, at the edge.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

import msgspec

from batchery.answers._collect import Collected

__all__ = ["FailedAsk", "JobModeState", "NodeReport", "node_report"]


class FailedAsk(TypedDict):
    """An item that ended without a usable answer, after `attempts` tries, and why."""

    id: str
    reason: str
    attempts: int


class JobModeState(TypedDict):
    """One job's mode and the policy's reason; `results` counts its answers by mode."""

    job_id: str
    mode: str
    reason: str
    results: dict[str, int]
    fallback: str | None


class NodeReport(TypedDict):
    """The fields every answer-collecting node reports; each node's report adds its own.

    `deadline_at` (Unix seconds) is when the node had to be done, `overrun_s` how late it
    finished (None when on time or without a deadline).
    """

    run_id: str
    failed: list[FailedAsk]
    repaired: dict[str, list[str]]
    retried: int
    jobs: list[str]
    modes: list[JobModeState]
    cost_usd: float
    realtime_cost_usd: float
    savings_usd: float
    deadline_at: float | None
    overrun_s: float | None


def node_report(run_id: str, collected: Collected[Any], deadline_at: float | None) -> NodeReport:
    """The shared report fields of a finished node call; the overrun is measured now."""
    overrun = None if deadline_at is None else time.time() - deadline_at
    return NodeReport(
        run_id=run_id,
        failed=msgspec.to_builtins(collected.failures),
        repaired={key: list(repairs) for key, repairs in collected.repaired.items()},
        retried=collected.retried,
        jobs=list(collected.jobs),
        modes=msgspec.to_builtins(collected.modes),
        cost_usd=collected.cost_usd,
        realtime_cost_usd=collected.realtime_cost_usd,
        savings_usd=collected.savings_usd,
        deadline_at=deadline_at,
        overrun_s=round(overrun, 3) if overrun is not None and overrun > 0 else None,
    )
