"""`batchery worker`: take queued runs from the work queue and drive each one to its end.

The queue (from `batchery-queue`) hands out runs, highest priority first and none before its
time, and gives a run whose worker stopped sending heartbeats to another worker. Each run is
driven through `BatchLlmService.resume`, under the job's own lease, so a job taken over after
a crash resumes from the store and no provider batch is created twice.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from importlib import metadata

import click

from batchery.cli._common import open_app
from batchery.cli._exit import EXIT_CODES_HELP
from batchery.cli._explain import explain
from batchery.cli._loop import run_async
from batchery.cli._queueing import queue_settings
from batchery.logging import redact_text
from batchery.plugins import PROVIDERS_GROUP
from batchery.service import BatchLlmService
from batchery.settings import LoadedSettings
from batchery.store import JobHeldError, LeaseLostError
from batchery.work_queue import QueuedRun

__all__ = ["worker_command"]

UNDRIVABLE_RETRY_S = 60.0
"""How long a run this worker could not drive (no key for its provider, the provider or store
unreachable) waits in the queue before a worker tries it again."""


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


async def _drive(services: _Services, run: QueuedRun, *, retry_s: float) -> float | None:
    """Drive the run; when it cannot be driven now, say why and when it is tried again.

    Another live process holding the job is retried a heartbeat later; a known failure (one
    `explain` names) in one line, a minute later, for this or another worker. Anything else is
    a bug and keeps its traceback.
    """
    click.echo(f"claimed {run.run_id}", err=True)
    try:
        service = await services.service(run.provider)
        outcome = await service.resume(run.run_id)
    except JobHeldError as held:
        click.echo(f"{held}; retrying in {retry_s:g}s", err=True)
        return retry_s
    except LeaseLostError as lost:
        click.echo(f"{lost}; stopped and sent nothing more; queued again", err=True)
        return retry_s
    except Exception as exc:
        found = explain(exc)
        if found is None:
            raise
        click.echo(
            f"{run.run_id}: {redact_text(found[1])}; retrying in {UNDRIVABLE_RETRY_S:g}s",
            err=True,
        )
        return UNDRIVABLE_RETRY_S
    job, counts = outcome.job, outcome.counts
    click.echo(
        f"{run.run_id} {job.status}: {counts.succeeded} succeeded, {counts.failed} failed",
        err=True,
    )
    return None


def _served(providers: str | None) -> list[str]:
    """The providers named by `--providers`, or every installed one."""
    if providers is None:
        return sorted({ep.name for ep in metadata.entry_points(group=PROVIDERS_GROUP)})
    return sorted({name.strip() for name in providers.split(",") if name.strip()})


@contextmanager
def _stop_on_sigterm(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM (or SIGINT) stops claiming; the runs in hand are finished before exiting."""
    loop = asyncio.get_running_loop()

    def drain() -> None:
        click.echo("draining: finishing the runs in hand, claiming no more", err=True)
        stop.set()

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
    help="Runs this worker drives at once (at least 2).",
)
@click.option(
    "--stall-after",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Seconds without a worker's heartbeat after which its runs go to another worker;"
    " an idle worker looks for such runs every half of this.",
)
@click.option(
    "--providers",
    help="Comma-separated providers whose runs this worker takes, e.g. openai,voyage; runs of"
    " others stay queued for other workers (default: every installed provider).",
)
@click.option("--base-url", help="Provider base URL, the one the runs were submitted with.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings.")
def worker_command(
    store: str | None,
    concurrency: int,
    stall_after: float,
    providers: str | None,
    base_url: str | None,
    config_file: str | None,
) -> None:
    """Run queued work from the PostgreSQL store until SIGTERM, which drains and exits 0."""
    loaded, store_url, open_queue = queue_settings("worker", config_file, store)
    retry_s = loaded.settings.heartbeat_s
    served = _served(providers)
    if not served:
        raise click.UsageError("--providers names no provider")

    async def main() -> None:
        stop = asyncio.Event()
        async with AsyncExitStack() as stack, open_queue(store_url) as queue:
            services = _Services(loaded, base_url, stack)

            async def drive(run: QueuedRun) -> float | None:
                return await _drive(services, run, retry_s=retry_s)

            with _stop_on_sigterm(stop):
                click.echo(f"worker ready for {','.join(served)}", err=True)
                await queue.work(
                    drive,
                    providers=served,
                    concurrency=concurrency,
                    stall_after_s=stall_after,
                    stop=stop,
                )

    run_async(main())
