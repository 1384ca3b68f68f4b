"""`batchery jobs`: what the job store holds, and the few things you may do to a job."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import msgspec
from rich.table import Table

from batchery.cli._common import open_app, settings_from, table_console
from batchery.cli._exit import ExitCode
from batchery.cli._loop import run_async
from batchery.cli._results import FORMATS, STDOUT, check_out, write_results
from batchery.model import Job, JobStatus
from batchery.settings import LoadedSettings
from batchery.store import JobStore, StoreBusyError, open_store

__all__ = ["jobs_group"]

_T = TypeVar("_T")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


async def _with_store(loaded: LoadedSettings, use: Callable[[JobStore], Awaitable[_T]]) -> _T:
    store = open_store(
        loaded.settings.store_url(), busy_timeout_s=loaded.settings.store_busy_timeout_s
    )
    await store.open()
    try:
        return await use(store)
    finally:
        await store.close()


@click.group("jobs")
def jobs_group() -> None:
    """List, inspect, cancel and export jobs in the job store."""


_store_option = click.option("--store", help="Job store path or URL.")


@jobs_group.command("list")
@_store_option
@click.option("--limit", default=50, show_default=True)
def list_jobs(store: str | None, limit: int) -> None:
    """The newest jobs first."""
    loaded = settings_from(None, {"store": store})
    jobs = run_async(_with_store(loaded, lambda s: s.list_jobs(limit=limit)))
    table = Table("id", "status", "mode", "provider", "model", "total", "created")
    for job in jobs:
        table.add_row(
            job.id,
            job.status,
            job.mode,
            job.provider,
            job.model or "",
            str(job.total),
            _when(job.created_at),
        )
    table_console().print(table)


@jobs_group.command("show")
@click.argument("job_id")
@_store_option
def show_job(job_id: str, store: str | None) -> None:
    """One job with its counts and chunks, as JSON."""
    loaded = settings_from(None, {"store": store})

    async def read(s: JobStore) -> dict[str, object]:
        job = await s.get_job(job_id)
        if job is None:
            raise click.UsageError(f"no job {job_id!r} in {loaded.settings.store_url()}")
        return {
            "job": job,
            "counts": await s.counts(job_id),
            "chunks": await s.chunks(job_id),
            "quarantined": await s.quarantined(job_id),
        }

    report = run_async(_with_store(loaded, read))
    click.echo(msgspec.json.format(msgspec.json.encode(report), indent=2))


@jobs_group.command("results")
@click.argument("job_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="Results file; - writes them to stdout.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="batchery", show_default=True)
@_store_option
def job_results(job_id: str, out: Path, fmt: str, store: str | None) -> None:
    """Write the job's stored results as JSON lines, in input order (see docs/results.md)."""
    loaded = settings_from(None, {"store": store})
    check_out(out)

    async def export(s: JobStore) -> int:
        job = await s.get_job(job_id)
        if job is None:
            raise click.UsageError(f"no job {job_id!r} in {loaded.settings.store_url()}")
        return await write_results(s.results(job_id), job, out, fmt=fmt)

    count = run_async(_with_store(loaded, export))
    if out != STDOUT:
        click.echo(f"{count} results written to {out}", err=True)


@jobs_group.command("cancel")
@click.argument("job_id")
@_store_option
@click.option("--base-url", help="Provider base URL, if not the default.")
def cancel_job(job_id: str, store: str | None, base_url: str | None) -> None:
    """Stop the job: finished results are still collected, the rest end cancelled.

    A job another process drives gets a cancel request in the store; that process stops its
    batches at its next step and exits with the cancelled status. A job nobody drives is
    cancelled here, at the provider.
    """
    loaded = settings_from(None, {"store": store})

    async def request(s: JobStore) -> Job | str:
        job = await s.get_job(job_id)
        if job is None:
            raise click.UsageError(f"no job {job_id!r} in {loaded.settings.store_url()}")
        holder = await s.holder(job_id)
        if job.status.terminal or holder is None or holder.expires_at <= time.time():
            return job
        await s.request_cancel(job_id)
        return f"cancel requested; {holder.process}, which drives it, stops it at its next step"

    async def cancel() -> str:
        found = await _with_store(loaded, request)
        if isinstance(found, str):
            return found
        if found.status.terminal:
            return found.status
        async with open_app(loaded, found.provider, base_url=base_url) as ctx:
            cancelled = await ctx.service.cancel_batch(job_id)
        if cancelled.status.terminal or cancelled.status is JobStatus.CANCELLING:
            return cancelled.status
        return "cancel requested; the process that drives it stops it at its next step"

    try:
        click.echo(f"{job_id}: {run_async(cancel())}")
    except StoreBusyError as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(ExitCode.ENVIRONMENT) from None
