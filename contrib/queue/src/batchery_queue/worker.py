"""`batchery worker`: take queued runs from the work queue and drive each one to its end.

pgqueuer hands out entries (highest priority first, none before its time) and gives an entry
whose worker stopped sending heartbeats to another worker. Each entry is driven through
`BatchLlmService.resume`, under the job's own lease, so a job taken over after a crash
resumes from the store and no provider batch is created twice.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import click
import msgspec
from batchery.cli._common import open_app, settings_from
from batchery.cli._errors import CliError
from batchery.cli._exit import EXIT_CODES_HELP, ExitCode
from batchery.cli._explain import explain
from batchery.cli._loop import run_async
from batchery.logging import redact_text
from batchery.service import BatchLlmService
from batchery.settings import LoadedSettings
from batchery.store import JobHeldError, LeaseLostError
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries

from batchery_queue._queue import ENTRYPOINT, QueuedRun, queue_driver

__all__ = ["worker_command"]


class _Services:
    """One booted application per provider, opened on the first run that needs it."""

    def __init__(self, loaded: LoadedSettings, base_url: str | None, stack: AsyncExitStack):
        self._loaded = loaded
        self._base_url = base_url
        self._stack = stack
        self._opened: dict[str, BatchLlmService] = {}
        self._lock = asyncio.Lock()

    async def service(self, provider: str) -> BatchLlmService:
        async with self._lock:
            if provider not in self._opened:
                ctx = await self._stack.enter_async_context(
                    open_app(self._loaded, provider, base_url=self._base_url)
                )
                self._opened[provider] = ctx.service
            return self._opened[provider]


_UNDRIVABLE_RETRY = timedelta(seconds=60)
"""How long a run this worker could not drive (no key for its provider, the provider or store
unreachable) waits in the queue before a worker tries it again."""


async def _drive(services: _Services, job: Job, *, retry_after: timedelta) -> None:
    """Drive the entry's run; when it cannot be driven now, say why and ask the queue to retry.

    Another live process holding the job is retried a heartbeat later; a known failure (one
    `explain` names) in one line, a minute later, for this or another worker. Anything else is
    a bug: pgqueuer logs it with its traceback and keeps the entry as failed.
    """
    assert job.payload is not None
    run = msgspec.json.decode(job.payload, type=QueuedRun)
    click.echo(f"claimed {run.run_id}", err=True)
    try:
        service = await services.service(run.provider)
        outcome = await service.resume(run.run_id)
    except JobHeldError as held:
        click.echo(f"{held}; retrying in {retry_after.total_seconds():g}s", err=True)
        raise RetryRequested(retry_after, reason="held by another process") from None
    except LeaseLostError as lost:
        click.echo(f"{lost}; stopped and sent nothing more; queued again", err=True)
        raise RetryRequested(retry_after, reason="lease lost") from None
    except Exception as exc:
        found = explain(exc)
        if found is None:
            raise
        wait = _UNDRIVABLE_RETRY.total_seconds()
        click.echo(f"{run.run_id}: {redact_text(found[1])}; retrying in {wait:g}s", err=True)
        raise RetryRequested(_UNDRIVABLE_RETRY, reason="cannot drive it now") from None
    job_record, counts = outcome.job, outcome.counts
    click.echo(
        f"{run.run_id} {job_record.status}: {counts.succeeded} succeeded, {counts.failed} failed",
        err=True,
    )


@asynccontextmanager
async def _stop_on_sigterm(manager: QueueManager) -> AsyncIterator[None]:
    """SIGTERM (or SIGINT) stops claiming; the runs in hand are finished before exiting."""
    loop = asyncio.get_running_loop()

    def drain() -> None:
        click.echo("draining: finishing the runs in hand, claiming no more", err=True)
        manager.shutdown.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, drain)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@click.command("worker", epilog=EXIT_CODES_HELP)
@click.option("--store", help="The PostgreSQL job store URL (default: BATCHERY_STORE).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="Runs this worker drives at once (pgqueuer's per-worker cap is at least 2).",
)
@click.option(
    "--stall-after",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Seconds without a worker's heartbeat after which its runs go to another worker;"
    " an idle worker looks for such runs every half of this.",
)
@click.option("--base-url", help="Provider base URL, the one the runs were submitted with.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings.")
def worker_command(
    store: str | None,
    concurrency: int,
    stall_after: float,
    base_url: str | None,
    config_file: str | None,
) -> None:
    """Run queued work from the PostgreSQL store until SIGTERM, which drains and exits 0."""
    loaded = settings_from(config_file, {"store": store})
    store_url = loaded.settings.store_url()
    if not store_url.startswith(("postgresql://", "postgres://")):
        raise CliError(
            "batchery worker needs a PostgreSQL store: pass --store postgresql://…",
            ExitCode.USAGE,
        )
    retry_after = timedelta(seconds=loaded.settings.heartbeat_s)

    async def main() -> None:
        async with AsyncExitStack() as stack, queue_driver(store_url) as driver:
            services = _Services(loaded, base_url, stack)
            manager = QueueManager(Queries(driver))

            @manager.entrypoint(ENTRYPOINT, on_failure="hold")
            async def drive(job: Job) -> None:
                await _drive(services, job, retry_after=retry_after)

            async with _stop_on_sigterm(manager):
                click.echo(f"worker {manager.queue_manager_id} ready", err=True)
                await manager.run(
                    dequeue_timeout=timedelta(seconds=stall_after / 2),
                    batch_size=1,
                    max_concurrent_tasks=concurrency,
                    heartbeat_timeout=timedelta(seconds=stall_after),
                )

    run_async(main())
