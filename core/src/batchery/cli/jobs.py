"""`batchery jobs`: what the job store holds, and the few things you may do to a job."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import click
import msgspec
from rich.table import Table

from batchery.cli._common import AppContext, open_app, settings_from, table_console
from batchery.cli._exit import ExitCode
from batchery.cli._loop import run_async
from batchery.cli._results import STDOUT, check_out, write_results
from batchery.cli._running import Summary, summary_of
from batchery.formats import FORMATS
from batchery.model import Job, JobStatus
from batchery.secrets import shown_url
from batchery.service import EndpointMismatchError
from batchery.service.liveness import INTERRUPTED, is_live, job_state
from batchery.settings import LoadedSettings
from batchery.spi import ProviderError
from batchery.store import JobCounts, JobStore, open_store

__all__ = ["jobs_group"]

_T = TypeVar("_T")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


def _age(ts: float) -> str:
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class JobLine(msgspec.Struct, kw_only=True):
    """One job as `jobs list` and `jobs show` describe it, with how to resume it if it stopped."""

    job: Job
    state: str
    counts: JobCounts
    resume: str | None = None


async def _job_line(store: JobStore, job: Job, store_option: str | None) -> JobLine:
    state = job_state(job, await store.holder(job.id))
    resume = None
    if state == INTERRUPTED:
        where = f" --store {shown_url(store_option)}" if store_option else ""
        resume = f"batchery jobs resume {job.id}{where}"
    return JobLine(job=job, state=state, counts=await store.counts(job.id), resume=resume)


async def _job_or_exit(store: JobStore, job_id: str, loaded: LoadedSettings) -> Job:
    job = await store.get_job(job_id)
    if job is None:
        raise click.UsageError(f"no job {job_id!r} in {shown_url(loaded.settings.store_url())}")
    return job


@asynccontextmanager
async def _at_endpoint(
    loaded: LoadedSettings, job: Job, base_url: str | None = None
) -> AsyncIterator[AppContext]:
    """The application reaching the endpoint the job was created for (or `base_url`, when
    given), keys from the usual variables; a job stored without its endpoint goes to the
    provider's configured one."""
    recorded = job.endpoint
    url = base_url or (recorded.base_url if recorded is not None else None)
    async with open_app(loaded, job.provider, base_url=url) as ctx:
        here = ctx.service.endpoint(job.provider)
        if base_url is None and recorded is not None and recorded.base_url != here.base_url:
            raise click.UsageError(
                f"job {job.id} ran at {recorded.shown}, but {job.provider} is configured"
                f" for {here.shown} here; unset the provider's base URL setting to reach it"
            )
        yield ctx


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
    """List, inspect, resume, cancel and export jobs in the job store."""


_store_option = click.option("--store", help="Job store path or URL.")


@jobs_group.command("list")
@_store_option
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array for programs.")
def list_jobs(store: str | None, limit: int, as_json: bool) -> None:
    """The newest jobs first: input, endpoint, mode, state, counts, cost and age.

    An unfinished job whose driver is gone reads `interrupted`, with the command that
    resumes it. `--json` prints the same as `jobs show` does for each job, without chunks.
    """
    loaded = settings_from(None, {"store": store})

    async def read(s: JobStore) -> list[JobLine]:
        return [await _job_line(s, job, store) for job in await s.list_jobs(limit=limit)]

    lines = run_async(_with_store(loaded, read))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(lines), indent=2))
        return
    table = Table(
        "id", "input", "endpoint", "mode", "state", "ok", "failed", "pending", "cost $", "age"
    )
    for line in lines:
        job, counts = line.job, line.counts
        table.add_row(
            job.id,
            job.input_name or "",
            job.endpoint.shown if job.endpoint is not None else f"{job.provider} (not recorded)",
            job.mode,
            line.state,
            str(counts.succeeded),
            str(counts.failed),
            str(counts.total - counts.finished),
            f"{counts.cost_usd:.4f}",
            _age(job.created_at),
        )
    table_console().print(table)
    for line in lines:
        if line.resume is not None:
            click.echo(f"{line.job.id} is interrupted; resume it with: {line.resume}")


@jobs_group.command("show")
@click.argument("job_id")
@_store_option
def show_job(job_id: str, store: str | None) -> None:
    """One job with its counts and chunks, as JSON."""
    loaded = settings_from(None, {"store": store})

    async def read(s: JobStore) -> dict[str, object]:
        line = await _job_line(s, await _job_or_exit(s, job_id, loaded), store)
        return {
            "job": line.job,
            "state": line.state,
            "resume": line.resume,
            "counts": line.counts,
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
            raise click.UsageError(f"no job {job_id!r} in {shown_url(loaded.settings.store_url())}")
        return await write_results(s.results(job_id), job, out, fmt=fmt)

    count = run_async(_with_store(loaded, export))
    if out != STDOUT:
        click.echo(f"{count} results written to {out}", err=True)


@jobs_group.command("cancel")
@click.argument("job_id")
@_store_option
@click.option("--base-url", help="Provider base URL (default: the one the job ran at).")
def cancel_job(job_id: str, store: str | None, base_url: str | None) -> None:
    """Stop the job: finished results are still collected, the rest end cancelled.

    A job another process drives gets a cancel request in the store; that process stops its
    batches at its next step and exits with the cancelled status. A job nobody drives is
    cancelled here, at the provider.
    """
    loaded = settings_from(None, {"store": store})

    async def request(s: JobStore) -> Job | str:
        job = await _job_or_exit(s, job_id, loaded)
        holder = await s.holder(job_id)
        if job.status.terminal or holder is None or not is_live(holder):
            return job
        await s.request_cancel(job_id)
        return f"cancel requested; {holder.process}, which drives it, stops it at its next step"

    async def cancel() -> str:
        found = await _with_store(loaded, request)
        if isinstance(found, str):
            return found
        if found.status.terminal:
            return found.status
        async with _at_endpoint(loaded, found, base_url) as ctx:
            cancelled = await ctx.service.cancel_batch(job_id)
        if cancelled.status.terminal or cancelled.status is JobStatus.CANCELLING:
            return cancelled.status
        return "cancel requested; the process that drives it stops it at its next step"

    click.echo(f"{job_id}: {run_async(cancel())}")


@jobs_group.command("resume")
@click.argument("job_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the job's results here, one JSON line per custom_id.",
)
@click.option(
    "--retry-failed", is_flag=True, help="Also send again requests that failed permanently."
)
@_store_option
def resume_job(job_id: str, out: Path | None, retry_failed: bool, store: str | None) -> None:
    """Finish a job from the store alone, at the endpoint it was created for.

    An interrupted job goes on where it stopped; a finished one sends again the requests that
    ended with a retryable error, as running the same `batchery run` command would.
    """
    loaded = settings_from(None, {"store": store})

    async def resume() -> Summary:
        job = await _with_store(loaded, lambda s: _job_or_exit(s, job_id, loaded))
        async with _at_endpoint(loaded, job) as ctx:
            outcome = await ctx.service.rerun(job_id, retry_failed=retry_failed)
            if out is not None:
                results = ctx.service.get_batch_results(job_id)
                await write_results(results, outcome.job, out)
            return summary_of(outcome)

    try:
        summary = run_async(resume())
    except ProviderError as exc:
        click.echo(f"error: {exc.message} ({exc.code}); the job is kept as it was", err=True)
        raise click.exceptions.Exit(ExitCode.PROVIDER_UNAVAILABLE) from None
    except EndpointMismatchError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(msgspec.json.format(msgspec.json.encode(summary), indent=2))
    if summary.status == JobStatus.CANCELLED:
        raise click.exceptions.Exit(ExitCode.CANCELLED)
    if summary.failed:
        raise click.exceptions.Exit(ExitCode.SOME_FAILED)
