"""Show a run's events as they happen: progress bars on a terminal, plain lines otherwise.

A graph node's events come with those of the jobs it runs; each job gets its own bar, labelled
with the node that started it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from batchery.cli._context import LOGGING_META
from batchery.events import (
    BatchSubmitted,
    FallbackStarted,
    ItemRetried,
    JobEvent,
    ModeChosen,
    NodeFinished,
    NodeStarted,
    OverSla,
    RunEvent,
    RunFinished,
    RunStarted,
)
from batchery.events import (
    Progress as ProgressEvent,
)

__all__ = ["describe", "follow"]


def describe(event: RunEvent) -> str:
    """One plain line for an event, for logs, CI output and pipes."""
    match event:
        case RunStarted():
            again = " (resumed)" if event.resumed else ""
            return (
                f"{event.run_id} started{again}: {event.total} requests, "
                f"{event.provider} {event.model or ''} {event.mode}".rstrip()
            )
        case ModeChosen():
            return f"{event.run_id} mode {event.mode}: {event.reason}"
        case BatchSubmitted():
            return (
                f"{event.run_id} chunk {event.chunk} submitted as {event.batch_id} "
                f"({event.requests} requests)"
            )
        case ProgressEvent():
            eta = f", eta {event.eta_s:.0f}s" if event.eta_s is not None else ""
            return (
                f"{event.run_id} {event.phase}: {event.completed}/{event.total} done, "
                f"{event.failed} failed{eta}"
            )
        case ItemRetried():
            return (
                f"{event.run_id} retrying {event.custom_id} "
                f"(attempt {event.attempt}): {event.reason}"
            )
        case FallbackStarted():
            return (
                f"{event.run_id} falling back to realtime for {event.count} requests: "
                f"{event.reason}"
            )
        case OverSla():
            expected = (
                f", longer than expected (about {_span(event.expected_s)})"
                if event.expected_s is not None
                else ""
            )
            return (
                f"{event.run_id} chunk {event.chunk} ({event.batch_id}) has been {event.phase} "
                f"for {_span(event.age_s)}{expected}; still waiting for it"
            )
        case RunFinished():
            return (
                f"{event.run_id} {event.status}: {event.succeeded} succeeded, "
                f"{event.failed} failed of {event.total} in {event.duration_s:.1f}s"
            )
        case NodeStarted():
            return f"{event.run_id} node {event.node} started on {event.items} items"
        case JobEvent():
            return describe(event.event)
        case NodeFinished():
            return (
                f"{event.run_id} node {event.node} finished: {event.produced} produced from "
                f"{event.items} items, {len(event.failed_items)} failed, "
                f"${event.cost_usd:.4f} (saved ${event.savings_usd:.4f})"
            )


def _span(seconds: float) -> str:
    """A duration as people say it: 45s, 12m, 3h 20m."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    return f"{hours}h {rest}m" if rest else f"{hours}h"


def _run_finished(event: RunEvent) -> bool:
    return isinstance(event, RunFinished)


def _label(run_id: str, nodes: dict[str, str]) -> str:
    """The node that runs `run_id` (its run ids start with the node's), if any."""
    return next((name for prefix, name in nodes.items() if run_id.startswith(prefix)), "")


def _verbose() -> bool:
    """Whether `-v` was given: then each retry gets its own line, else the bars count them."""
    context = click.get_current_context(silent=True)
    return bool(context and context.meta.get(LOGGING_META, (0, None))[0])


async def follow(
    queue: asyncio.Queue[RunEvent],
    *,
    stream: TextIO | None = None,
    until: Callable[[RunEvent], bool] = _run_finished,
) -> None:
    """Render events from `queue` until one satisfies `until` (by default: a run finished)."""
    out = stream or sys.stderr
    retries = _verbose()
    if not out.isatty():
        while True:
            event = await queue.get()
            if isinstance(event, JobEvent):
                continue
            if retries or not isinstance(event, ItemRetried):
                print(describe(event), file=out, flush=True)
            if until(event):
                return
    console = Console(file=out)
    with Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}
        nodes: dict[str, str] = {}
        while True:
            event = await queue.get()
            if isinstance(event, JobEvent):
                continue
            if isinstance(event, ProgressEvent):
                label = f"{_label(event.run_id, nodes)} {event.phase}".strip()
                if event.run_id not in tasks:
                    tasks[event.run_id] = bars.add_task(label, total=event.total, failed=0)
                bars.update(
                    tasks[event.run_id],
                    description=label,
                    completed=event.completed + event.failed,
                    total=event.total,
                    failed=event.failed,
                )
            elif retries or not isinstance(event, ItemRetried):
                if isinstance(event, NodeStarted):
                    nodes[event.run_id] = event.node
                bars.console.print(describe(event))
            if until(event):
                return
