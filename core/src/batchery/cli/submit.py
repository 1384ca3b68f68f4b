"""`batchery submit`: check a workload as `batchery run` would, store it as a job, queue it.

Nothing is sent to the provider here; a `batchery worker` claims the queued run and drives it.
The queue comes from a contrib package (`batchery-queue`), found through `batchery.work_queue`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from batchery.cli._common import open_app, parse_duration
from batchery.cli._errors import CliError
from batchery.cli._exit import EXIT_CODES_HELP, ExitCode
from batchery.cli._loop import run_async
from batchery.cli._queueing import queue_settings
from batchery.cli._running import _Findings, _parsed
from batchery.cli._workload import workload_options
from batchery.durations import delay_s
from batchery.model import Mode
from batchery.service import InvalidInputError
from batchery.submission import IdempotencyConflictError, Submission, submit
from batchery.windows import Window

__all__ = ["not_before_delay", "parse_window", "submit_command"]


def not_before_delay(text: str, *, now: datetime | None = None) -> float:
    """Seconds from now a run waits: a duration (`30m`) or an ISO 8601 time (UTC if no zone)."""
    try:
        return delay_s(text, now=now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--not-before'") from None


def parse_window(text: str) -> Window:
    """`--window 01:00-05:00`, or a usage error saying what a window looks like."""
    try:
        return Window.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--window'") from None


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
@click.option(
    "--window",
    help="Start only inside this daily off-peak window, in UTC (e.g. 01:00-05:00), unless"
    " waiting for it would miss --deadline.",
)
@click.option("--deadline", help="How long you can wait, from now, e.g. 6h or 1d.")
@click.option(
    "--idempotency-key",
    help="Submitting the same workload again with the same key prints the same run id and"
    " queues nothing new; the key used for another workload is refused.",
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
    window: str | None,
    deadline: str | None,
    idempotency_key: str | None,
    base_url: str | None,
    store: str | None,
    config_file: str | None,
) -> None:
    """Queue every request of INPUT.jsonl as one run and print its id; a worker runs it."""
    loaded, store_url, open_queue = queue_settings("submit", config_file, store)
    name = provider or loaded.settings.default_provider
    submission = Submission(
        provider=name,
        model=model,
        mode=Mode(mode),
        priority=priority,
        not_before_s=not_before_delay(not_before) if not_before else None,
        window=parse_window(window) if window else None,
        deadline_s=parse_duration(deadline) if deadline else None,
        idempotency_key=idempotency_key,
        input_name=input_path.name,
    )
    parsed = _parsed(input_path)
    findings = _Findings(parsed, input_path)

    async def main() -> str:
        async with open_app(loaded, name, base_url=base_url, require_key=False) as ctx:
            try:
                done = await submit(
                    ctx.service, lambda: open_queue(store_url), parsed.items, submission
                )
            except InvalidInputError as exc:
                findings.refuse(exc)
            except IdempotencyConflictError as exc:
                raise CliError(f"batchery submit: {exc}", ExitCode.USAGE) from None
            findings.warn(done.warnings)
            if done.hold.note is not None:
                click.echo(f"{done.run_id}: {done.hold.note}", err=True)
            return done.run_id

    click.echo(run_async(main()))
