"""What `batchery run` does once its options are read: check the file, drive or follow the
run, write its results and exit with the code that says how it went.

Kept apart from the command's options (`batchery.cli.run`) so that `batchery run --help`
imports none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn

import click
import msgspec

from batchery.cli._common import open_app, parse_duration, settings_from
from batchery.cli._errors import CliError
from batchery.cli._exit import ExitCode
from batchery.cli._loop import run_async
from batchery.cli._outcome import FailureGroup, Tally
from batchery.cli._progress import follow
from batchery.cli._results import STDOUT, check_out, write_results
from batchery.events import RunEvent
from batchery.formats import OPENAI_KINDS
from batchery.inputs import InputFile, read_input
from batchery.model import Mode
from batchery.service import BatchLlmService, InvalidInputError, RunOutcome, RunPlan
from batchery.service.liveness import is_live, process_name
from batchery.service.validation import Finding
from batchery.store import JobHeldError, LeaseLostError

__all__ = ["Summary", "execute", "plan_report", "summary_of"]


class Summary(msgspec.Struct, kw_only=True):
    run_id: str
    status: str
    mode: str
    mode_reason: str | None
    provider: str
    model: str | None
    total: int
    succeeded: int
    failed: int
    cached: int
    batches_submitted: int
    duration_s: float
    cost_usd: float
    realtime_cost_usd: float
    savings_usd: float
    unpriced: int
    resumed: bool
    failures: list[FailureGroup] = msgspec.field(default_factory=list)
    exit_code: int = 0


def summary_of(outcome: RunOutcome) -> Summary:
    job, counts = outcome.job, outcome.counts
    return Summary(
        run_id=job.id,
        status=job.status,
        mode=job.mode,
        mode_reason=job.reason,
        provider=job.provider,
        model=job.model,
        total=counts.total,
        succeeded=counts.succeeded,
        failed=counts.failed,
        cached=counts.cached,
        batches_submitted=outcome.batches_submitted,
        duration_s=outcome.duration_s,
        cost_usd=counts.cost_usd,
        realtime_cost_usd=counts.realtime_cost_usd,
        savings_usd=counts.savings_usd,
        unpriced=counts.unpriced,
        resumed=outcome.resumed,
    )


def plan_report(plan: RunPlan) -> dict[str, object]:
    """What a dry run shows: the choice, its reason, each mode's estimates and the chunks."""
    return {
        "provider": plan.provider,
        "model": plan.model,
        "mode": plan.mode,
        "reason": plan.decision.reason,
        "total": len(plan.requests),
        "rejected": plan.rejected,
        "cached": plan.cached,
        "warnings": [str(w) for w in plan.warnings],
        "estimates": plan.decision.estimates,
        "chunks": [
            {
                "index": c.index,
                "kind": c.kind,
                "model": c.model,
                "requests": c.count,
                "bytes": c.size,
            }
            for c in plan.chunks
        ],
    }


def _check_format(parsed: InputFile, fmt: str) -> None:
    if fmt != "openai":
        return
    for item in parsed.items:
        if item.kind not in OPENAI_KINDS:
            raise CliError(
                f"{item.custom_id}: {item.kind} requests have no OpenAI output shape; "
                "use --format batchery",
                ExitCode.USAGE,
            )


_PROBLEMS_SHOWN = 10


def _refuse(input_path: Path, problems: list[str]) -> NoReturn:
    """Name the first problems, line by line, and how many more there are; nothing is sent."""
    for problem in problems[:_PROBLEMS_SHOWN]:
        click.echo(f"{input_path}: {problem}", err=True)
    if len(problems) > _PROBLEMS_SHOWN:
        more = len(problems) - _PROBLEMS_SHOWN
        click.echo(f"{input_path}: ... and {more} more problems; nothing was sent", err=True)
    raise click.exceptions.Exit(ExitCode.USAGE)


def _relay(queue: asyncio.Queue[RunEvent]) -> Callable[[RunEvent], None]:
    """Hand events read from the log to the progress view, dropping the oldest on overflow."""

    def put(event: RunEvent) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(event)

    return put


async def _drive_or_follow(
    service: BatchLlmService, queue: asyncio.Queue[RunEvent], start: Awaitable[RunOutcome]
) -> RunOutcome:
    """Run the job; when another live process drives it, say so in one line and follow it.

    A lease lost while driving (this process was paused past it, and another took over) ends
    the command with one line and `HELD_ELSEWHERE`: nothing more was called or written.
    """
    try:
        try:
            return await start
        except JobHeldError as held:
            click.echo(f"{held}; following it", err=True)
            return await service.attach(held.job_id, on_event=_relay(queue))
    except LeaseLostError as lost:
        holder = await service.store.holder(lost.job_id)
        if is_live(holder) and holder is not None and holder.process != process_name():
            then = f"{holder.process} drives it now"
        else:
            then = "run the same command again to resume it"
        click.echo(f"{lost}; this process stopped and sent nothing more; {then}", err=True)
        raise click.exceptions.Exit(ExitCode.HELD_ELSEWHERE) from None


def _parsed(input_path: Path) -> InputFile:
    parsed = read_input(input_path)
    if parsed.problems:
        _refuse(input_path, [str(p) for p in parsed.problems])
    return parsed


class _Findings:
    """Findings about the file's requests said by line: refused, or warned about on stderr."""

    def __init__(self, parsed: InputFile, input_path: Path) -> None:
        self._parsed = parsed
        self._input_path = input_path

    def _where(self, position: int) -> str:
        return f"line {self._parsed.line_of(position)}"

    def refuse(self, exc: InvalidInputError) -> NoReturn:
        _refuse(self._input_path, [f.describe(self._where) for f in exc.findings])

    def warn(self, warnings: list[Finding]) -> None:
        for warning in warnings:
            click.echo(f"{self._input_path}: warning: {warning.describe(self._where)}", err=True)


def _validated(
    service: BatchLlmService, parsed: InputFile, input_path: Path, name: str, model: str | None
) -> None:
    """Check the whole file against the provider before anything is stored or sent."""
    findings = _Findings(parsed, input_path)
    try:
        findings.warn(service.validate(parsed.items, provider=name, model=model))
    except InvalidInputError as exc:
        findings.refuse(exc)


def execute(
    *,
    input_path: Path,
    provider: str | None,
    model: str | None,
    mode: str,
    deadline: str | None,
    out: Path | None,
    fmt: str,
    summary: Path | None,
    dry_run: bool,
    no_cache: bool,
    retry_failed: bool,
    new_run: bool,
    base_url: str | None,
    emulate: bool,
    store: str | None,
    config_file: str | None,
    strict: bool | None,
) -> None:
    """Run INPUT.jsonl as `batchery run` was asked to; always ends by raising click's `Exit`
    with the documented code (or a `CliError` the central handler turns into one line)."""
    loaded = settings_from(config_file, {"store": store, "strict": strict})
    name = provider or loaded.settings.default_provider
    out = out or input_path.with_name(input_path.stem + ".results.jsonl")
    deadline_s = parse_duration(deadline) if deadline else None
    use_cache = loaded.settings.use_cache and not no_cache
    parsed = _parsed(input_path)
    _check_format(parsed, fmt)
    if not dry_run:
        check_out(out)
        if summary is not None:
            check_out(summary, "the summary")

    async def plan() -> dict[str, object]:
        async with open_app(
            loaded, name, emulate=emulate, base_url=base_url, require_key=False
        ) as ctx:
            _validated(ctx.service, parsed, input_path, name, model)
            return plan_report(
                await ctx.service.plan(
                    parsed.items,
                    provider=name,
                    model=model,
                    mode=Mode(mode),
                    deadline_s=deadline_s,
                    use_cache=use_cache,
                )
            )

    async def main() -> tuple[Summary, Tally]:
        async with open_app(loaded, name, emulate=emulate, base_url=base_url) as ctx:
            findings = _Findings(parsed, input_path)
            endpoint = ctx.service.endpoint(name)
            resume_key = None if emulate else (endpoint.base_url or "default")
            fingerprint = (
                None
                if resume_key is None
                else hashlib.sha256(
                    f"{parsed.digest}|{name}|{model}|{mode}|{resume_key}".encode()
                ).hexdigest()
            )
            async with ctx.service.bus.subscribe() as queue:
                view = asyncio.create_task(follow(queue))
                try:
                    started = ctx.service.run(
                        parsed.items,
                        provider=name,
                        model=model,
                        mode=Mode(mode),
                        fingerprint=fingerprint,
                        deadline_s=deadline_s,
                        use_cache=use_cache,
                        retry_failed=retry_failed,
                        new_run=new_run,
                        input_name=input_path.name,
                        on_warnings=findings.warn,
                    )
                    try:
                        outcome = await _drive_or_follow(ctx.service, queue, started)
                    except InvalidInputError as exc:
                        view.cancel()
                        findings.refuse(exc)
                finally:
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(view, timeout=1.0)
            tally = Tally()
            results = ctx.service.get_batch_results(outcome.job.id)
            await write_results(results, outcome.job, out, fmt=fmt, tally=tally)
            return summary_of(outcome), tally

    try:
        if dry_run:
            _print_json(run_async(plan()))
            return
        done, tally = run_async(main())
    except InvalidInputError as exc:
        raise CliError(f"{input_path}: {exc}", ExitCode.USAGE) from None
    _finish(done, tally, out=out, summary=summary)


def _print_json(value: object) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n")


def _finish(done: Summary, tally: Tally, *, out: Path, summary: Path | None) -> None:
    """Report the run on stderr, the summary on stdout (unless results went there), and exit
    with the code that says how it went."""
    done.failures = tally.ordered()
    done.exit_code = tally.exit_code(done.status, done.batches_submitted)
    if summary is not None:
        try:
            summary.write_bytes(msgspec.json.format(msgspec.json.encode(done), indent=2) + b"\n")
        except OSError as exc:
            raise CliError(
                f"cannot write the summary to {summary}: {exc.strerror}", ExitCode.ENVIRONMENT
            ) from None
    if out != STDOUT:
        _print_json(done)
    for line in tally.lines(batches_submitted=done.batches_submitted, mode_reason=done.mode_reason):
        click.echo(line, err=True)
    if out != STDOUT:
        click.echo(f"results: {out}", err=True)
    raise click.exceptions.Exit(done.exit_code)
