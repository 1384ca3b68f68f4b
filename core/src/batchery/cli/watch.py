"""`batchery watch RUN_ID --url`: follow a run (a job, or a graph node's run) until it finishes.

Progress bars on a terminal, one plain line per event otherwise; the connection is resumed from
the last event seen whenever it drops. Exits 0 when the run completed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import click

from batchery.cli._loop import run_async
from batchery.cli._progress import follow
from batchery.client import ClientError, ProgressClient
from batchery.events import JobEvent, NodeFinished, RunEvent, RunFinished
from batchery.server.wire import NodeRunSnapshot, RunSnapshot

__all__ = ["TOKEN_ENV", "watch_command"]

TOKEN_ENV = "BATCHERY_TOKEN"  # noqa: S105 -- the variable's name, not a token


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        token = token_file.read_text().strip()
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise click.UsageError(f"give the API token in {TOKEN_ENV} or with --token-file")
    return token


async def _watch(url: str, token: str, run_id: str) -> str:
    """Render the run's events (a node run's with its jobs'); the run's final status."""
    async with ProgressClient(url, token) as client:
        try:
            snapshot: RunSnapshot | NodeRunSnapshot = await client.snapshot(run_id)
        except ClientError as exc:
            if exc.status != 404:
                raise
            snapshot = await client.node_run(run_id)
        state = snapshot.state
        click.echo(
            f"{run_id}: {snapshot.status}, {state.completed + state.failed}/{state.total} done",
            err=True,
        )
        if state.finished:
            return snapshot.status
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        view = asyncio.create_task(follow(queue, until=_ends(snapshot)))
        try:
            async for event in client.follow(run_id, state=state):
                queue.put_nowait(event.event if isinstance(event, JobEvent) else event)
            await asyncio.wait_for(view, timeout=5.0)
        finally:
            view.cancel()
        final = client.last_state(run_id)
        return final.status if final is not None else snapshot.status


def _ends(snapshot: RunSnapshot | NodeRunSnapshot) -> Callable[[RunEvent], bool]:
    """What ends the view: the node's `NodeFinished`, or the job's `RunFinished`."""
    if isinstance(snapshot, NodeRunSnapshot):
        return lambda event: isinstance(event, NodeFinished)
    return lambda event: isinstance(event, RunFinished)


@click.command("watch")
@click.argument("run_id")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="Server URL.")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding the API token (default: ${TOKEN_ENV}).",
)
def watch_command(run_id: str, url: str, token_file: Path | None) -> None:
    """Follow RUN_ID on a Batchery server until it finishes."""
    token = _token(token_file)
    status = run_async(_watch(url, token, run_id))
    click.echo(f"{run_id}: {status}", err=True)
    if status != "completed":
        raise click.exceptions.Exit(1)
