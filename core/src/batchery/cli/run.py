"""`batchery run`: one workload file in, exactly one result line per custom_id out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from pathlib import Path

import click
import msgspec

from batchery.cli._common import open_app, parse_duration, settings_from
from batchery.cli._loop import run_async
from batchery.cli._progress import follow
from batchery.inputs import InputFile, read_input
from batchery.model import Mode
from batchery.service import (
    BatchLlmService,
    InvalidInputError,
    ModeUnavailableError,
    RunOutcome,
    RunPlan,
)
from batchery.spi import ProviderError

__all__ = ["Summary", "run_command", "summary_of", "write_results"]


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


async def write_results(service: BatchLlmService, job_id: str, out: Path) -> int:
    """Write every stored result as one JSON line, in input order, atomically."""
    encoder = msgspec.json.Encoder()
    partial = out.with_name(out.name + ".partial")
    count = 0
    with partial.open("wb") as handle:
        async for result in service.get_batch_results(job_id):
            handle.write(encoder.encode(result) + b"\n")
            count += 1
    partial.replace(out)
    return count


def _parsed(input_path: Path) -> InputFile:
    parsed = read_input(input_path)
    if parsed.problems:
        for problem in parsed.problems[:50]:
            click.echo(f"{input_path}: {problem}", err=True)
        if len(parsed.problems) > 50:
            click.echo(f"... and {len(parsed.problems) - 50} more problems", err=True)
        raise click.exceptions.Exit(2)
    return parsed


@click.command("run")
@click.argument(
    "input_path",
    metavar="INPUT.jsonl",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--provider", help="Provider to run on (default: the default_provider setting).")
@click.option("--model", help="Model for requests that name none.")
@click.option(
    "--mode", type=click.Choice([m.value for m in Mode]), default=Mode.AUTO.value, show_default=True
)
@click.option(
    "--deadline",
    help="How long you can wait, e.g. 90s, 30m, 6h; auto mode and"
    " the batch-to-realtime fallback keep to it.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file: one JSON line per input custom_id (default INPUT.results.jsonl).",
)
@click.option(
    "--summary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the run summary here as JSON.",
)
@click.option("--dry-run", is_flag=True, help="Validate, plan and estimate; call no provider.")
@click.option("--no-cache", is_flag=True, help="Ask the provider even for answers in the cache.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="On a finished run, send again every failed request, not only the retryable ones.",
)
@click.option(
    "--new-run", is_flag=True, help="Start a fresh run instead of picking up the last one."
)
@click.option("--base-url", help="Provider base URL (default: the provider's own variable).")
@click.option("--emulate", is_flag=True, help="Run against an in-process emulator.")
@click.option("--store", help="Job store path or URL (default: BATCHERY_STORE or user data).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings.")
def run_command(
    input_path: Path,
    provider: str | None,
    model: str | None,
    mode: str,
    deadline: str | None,
    out: Path | None,
    summary: Path | None,
    dry_run: bool,
    no_cache: bool,
    retry_failed: bool,
    new_run: bool,
    base_url: str | None,
    emulate: bool,
    store: str | None,
    config_file: str | None,
) -> None:
    """Run every request of INPUT.jsonl (OpenAI batch lines or Batchery's neutral lines).

    Running the same command again resumes an interrupted run instead of submitting twice;
    on a finished run it sends again exactly the requests that ended with a retryable error
    (--retry-failed: every failed one). Answers already stored are never sent again.
    """
    loaded = settings_from(config_file, {"store": store})
    name = provider or loaded.settings.default_provider
    out = out or input_path.with_name(input_path.stem + ".results.jsonl")
    deadline_s = parse_duration(deadline) if deadline else None
    use_cache = loaded.settings.use_cache and not no_cache
    parsed = _parsed(input_path)

    async def plan() -> dict[str, object]:
        async with open_app(
            loaded, name, emulate=emulate, base_url=base_url, require_key=False
        ) as ctx:
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

    async def main() -> Summary:
        async with open_app(loaded, name, emulate=emulate, base_url=base_url) as ctx:
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
                    outcome = await ctx.service.run(
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
                    )
                finally:
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(view, timeout=1.0)
            await write_results(ctx.service, outcome.job.id, out)
            return summary_of(outcome)

    try:
        result: object = run_async(plan() if dry_run else main())
    except InvalidInputError as exc:
        click.echo(f"{input_path}: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    except ModeUnavailableError as exc:
        raise click.UsageError(str(exc)) from None
    except ProviderError as exc:
        click.echo(
            f"error: {exc.message} ({exc.code}); the run is kept in the job store: "
            "run the same command again to resume it",
            err=True,
        )
        raise click.exceptions.Exit(1) from None
    encoded = msgspec.json.format(msgspec.json.encode(result), indent=2)
    if summary is not None and not dry_run:
        summary.write_bytes(encoded + b"\n")
    sys.stdout.write(encoded.decode() + "\n")
    if not dry_run:
        click.echo(f"results: {out}", err=True)
