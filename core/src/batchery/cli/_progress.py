"""Show a run's events as they happen: progress bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

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

from batchery.events import (
    BatchSubmitted,
    FallbackStarted,
    ItemRetried,
    ModeChosen,
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
            return (
                f"{event.run_id} chunk {event.chunk} ({event.batch_id}) has been {event.phase} "
                f"for {event.age_s:.0f}s"
            )
        case RunFinished():
            return (
                f"{event.run_id} {event.status}: {event.succeeded} succeeded, "
                f"{event.failed} failed of {event.total} in {event.duration_s:.1f}s"
            )


async def follow(queue: asyncio.Queue[RunEvent], *, stream: TextIO | None = None) -> None:
    """Render events from `queue` until the run finishes (or the task is cancelled)."""
    out = stream or sys.stderr
    if not out.isatty():
        while True:
            event = await queue.get()
            print(describe(event), file=out, flush=True)
            if isinstance(event, RunFinished):
                return
    console = Console(file=out)
    with Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bars:
        task: TaskID | None = None
        while True:
            event = await queue.get()
            if isinstance(event, ProgressEvent):
                done = event.completed + event.failed
                if task is None:
                    task = bars.add_task(event.phase, total=event.total, failed=0)
                bars.update(
                    task,
                    description=event.phase,
                    completed=done,
                    total=event.total,
                    failed=event.failed,
                )
            else:
                bars.console.print(describe(event))
            if isinstance(event, RunFinished):
                return
