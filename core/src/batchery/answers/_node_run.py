"""The frame of one graph-node call that asks for answers: started, asked, finished, reported.

Every node does the same around its own prompts and results: it checks its provider, works out
its deadline, says it started, reports each re-ask, and ends with what it produced, the mode
each job used and what it cost. Done here once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from batchery.answers._collect import Accept, Ask, Collected, collect_answers
from batchery.answers._prompts import PromptTemplate
from batchery.answers._report import NodeReport
from batchery.answers._settings import NodeSettings
from batchery.events import (
    ItemRetried,
    JobEvent,
    JobMode,
    NodeFinished,
    NodeStarted,
    RunEvent,
)
from batchery.nodes import read_deadline
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService

__all__ = ["ask_as_node", "node_deadline", "node_finished"]

T = TypeVar("T")


def node_deadline(
    settings: NodeSettings, state: Mapping[str, Any], node: str, *, now: float | None = None
) -> float | None:
    """When this call must be done (Unix seconds): the earlier of the graph's `deadline_at`
    in the state and the node's own `deadline_s` from now; None when neither is given."""
    given = read_deadline(state, node)
    own = (
        None
        if settings.deadline_s is None
        else (time.time() if now is None else now) + settings.deadline_s
    )
    candidates = [d for d in (given, own) if d is not None]
    return min(candidates) if candidates else None


async def ask_as_node(
    service: BatchLlmService,
    bus: ProgressBus,
    *,
    node: str,
    run_id: str,
    items: int,
    asks: Sequence[Ask],
    schema: Mapping[str, Any],
    accept: Accept[T],
    settings: NodeSettings,
    retry_prompt: PromptTemplate,
    deadline_at: float | None = None,
) -> Collected[T]:
    """Emit `NodeStarted`, then collect the answers, each re-ask reported as `ItemRetried`.

    Every job gets what is left of `deadline_at`, and every event of a job is repeated in the
    node's run as a `JobEvent`. An unknown provider fails here, before anything is said to
    have started.
    """
    service.provider(settings.provider)
    await bus.emit(run_id, NodeStarted, node=node, items=items)

    async def retried(item_id: str, attempt: int, reason: str) -> None:
        await bus.emit(run_id, ItemRetried, custom_id=item_id, attempt=attempt, reason=reason)

    jobs_prefix = f"{run_id}-"

    async def repeat(event: RunEvent, body: bytes) -> None:
        if event.run_id.startswith(jobs_prefix) and not isinstance(
            event, NodeStarted | NodeFinished | JobEvent
        ):
            await bus.emit(run_id, JobEvent, event=event)

    options = settings.ask_options()
    if deadline_at is not None:
        options = msgspec.structs.replace(options, deadline_s=max(0.0, deadline_at - time.time()))
    bus.add_sink(repeat)
    try:
        return await collect_answers(
            service,
            asks,
            schema=schema,
            accept=accept,
            run_id=run_id,
            options=options,
            retry_prompt=retry_prompt,
            on_retry=retried,
        )
    finally:
        bus.remove_sink(repeat)


async def node_finished(
    bus: ProgressBus,
    *,
    node: str,
    items: int,
    produced: int,
    report: NodeReport,
) -> None:
    """Emit `NodeFinished` with the counts, the failed ids, the modes, the deadline and cost."""
    await bus.emit(
        report["run_id"],
        NodeFinished,
        node=node,
        items=items,
        produced=produced,
        failed_items=[failure["id"] for failure in report["failed"]],
        retried=report["retried"],
        cost_usd=report["cost_usd"],
        realtime_cost_usd=report["realtime_cost_usd"],
        savings_usd=report["savings_usd"],
        modes=msgspec.convert(report["modes"], list[JobMode]),
        deadline_at=report["deadline_at"],
        overrun_s=report["overrun_s"],
    )
