"""`batchery submit`: check a workload as `batchery run` would, store it as a job, queue it.

Nothing is sent to the provider here; a `batchery worker` claims the queued run and drives it.
The queue comes from a contrib package (`batchery-queue`), found through `batchery.work_queue`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import click

from batchery.cli._common import open_app, parse_duration
from batchery.cli._exit import EXIT_CODES_HELP
from batchery.cli._loop import run_async
from batchery.cli._queueing import queue_settings
from batchery.cli._running import _parsed, _validated
from batchery.cli._workload import workload_options
from batchery.model import Mode
from batchery.work_queue import QueuedRun

__all__ = ["not_before_delay", "submit_command"]


def not_before_delay(text: str, *, now: datetime | None = None) -> float:
    """Seconds from now a run waits: a duration (`30m`) or an ISO 8601 time (UTC if no zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return parse_duration(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _fingerprint(idempotency_key: str) -> str:
    """The job fingerprint a key stands for: the store makes one job per fingerprint."""
    return hashlib.sha256(f"submit|{idempotency_key}".encode()).hexdigest()


@click.command("submit", epilog=EXIT_CODES_HELP)
@workload_options
@click.option(
    "--priority",
    type=click.IntRange(1, 10),
    default=5,
    show_default=True,
    help="Queue priority: a free worker takes the highest first (10 before 1).",
)
@click.option(
    "--not-before",
    help="Hold the run until this time (ISO 8601, UTC unless it names a zone) or for a"
    " duration such as 30m.",
)
@click.option("--deadline", help="How long you can wait, from now, e.g. 6h or 1d.")
@click.option(
    "--idempotency-key",
    help="Submitting again with the same key prints the same run id and queues nothing new.",
)
@click.option(
    "--base-url", help="Provider base URL; workers must run with the same one (default: none)."
)
@click.option("--store", help="The PostgreSQL job store URL (default: BATCHERY_STORE).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings.")
def submit_command(
    input_path: Path,
    provider: str | None,
    model: str | None,
    mode: str,
    priority: int,
    not_before: str | None,
    deadline: str | None,
    idempotency_key: str | None,
    base_url: str | None,
    store: str | None,
    config_file: str | None,
) -> None:
    """Queue every request of INPUT.jsonl as one run and print its id; a worker runs it."""
    loaded, store_url, open_queue = queue_settings("submit", config_file, store)
    name = provider or loaded.settings.default_provider
    deadline_s = parse_duration(deadline) if deadline else None
    delay = not_before_delay(not_before) if not_before else None
    parsed = _parsed(input_path)
    fingerprint = None if idempotency_key is None else _fingerprint(idempotency_key)

    async def main() -> str:
        async with open_app(loaded, name, base_url=base_url, require_key=False) as ctx:
            service = ctx.service
            _validated(service, parsed, input_path, name, model)
            job = None if fingerprint is None else await service.store.find_job(fingerprint)
            if job is None:
                plan = await service.plan(
                    parsed.items, provider=name, model=model, mode=Mode(mode), deadline_s=deadline_s
                )
                job = await service.create(
                    plan, fingerprint=fingerprint, deadline_s=deadline_s, input_name=input_path.name
                )
            if not job.status.terminal:
                async with open_queue(store_url) as queue:
                    run = QueuedRun(run_id=job.id, provider=job.provider)
                    await queue.enqueue(run, priority=priority, not_before_s=delay)
            return job.id

    click.echo(run_async(main()))
