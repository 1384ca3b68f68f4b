"""`batchery run`: one workload file in, exactly one result line per custom_id out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from pathlib import Path

import click
import msgspec

from batchery.cli._common import open_app, settings_from
from batchery.cli._progress import follow
from batchery.inputs import read_input
from batchery.model import Mode
from batchery.service import BatchLlmService, InvalidInputError, RunOutcome
from batchery.spi import ProviderError

__all__ = ["run_command", "run_workload", "summary_of", "write_results"]


class Summary(msgspec.Struct, kw_only=True):
    run_id: str
    status: str
    mode: str
    provider: str
    model: str | None
    total: int
    succeeded: int
    failed: int
    batches_submitted: int
    duration_s: float
    resumed: bool
    mode_reason: str | None


def summary_of(outcome: RunOutcome) -> Summary:
    job = outcome.job
    return Summary(
        run_id=job.id,
        status=job.status,
        mode=job.mode,
        provider=job.provider,
        model=job.model,
        total=outcome.counts.total,
        succeeded=outcome.counts.succeeded,
        failed=outcome.counts.failed,
        batches_submitted=outcome.batches_submitted,
        duration_s=outcome.duration_s,
        resumed=outcome.resumed,
        mode_reason=job.reason,
    )


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


async def run_workload(
    service: BatchLlmService,
    input_path: Path,
    *,
    provider: str,
    model: str | None,
    mode: Mode,
    resume_key: str | None,
) -> RunOutcome:
    """Parse, validate and run one file, following its progress on stderr."""
    parsed = read_input(input_path)
    if parsed.problems:
        for problem in parsed.problems[:50]:
            click.echo(f"{input_path}: {problem}", err=True)
        more = len(parsed.problems) - 50
        if more > 0:
            click.echo(f"... and {more} more problems", err=True)
        raise click.exceptions.Exit(2)
    fingerprint = None
    if resume_key is not None:
        fingerprint = hashlib.sha256(
            f"{parsed.digest}|{provider}|{model}|{mode}|{resume_key}".encode()
        ).hexdigest()
    async with service.bus.subscribe() as queue:
        view = asyncio.create_task(follow(queue))
        try:
            return await service.run(
                parsed.items, provider=provider, model=model, mode=mode, fingerprint=fingerprint
            )
        finally:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(view, timeout=1.0)


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
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file: one JSON line per input custom_id (default INPUT.results.jsonl).",
)
@click.option(
    "--summary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the run summary here as JSON.",
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
    out: Path | None,
    summary: Path | None,
    base_url: str | None,
    emulate: bool,
    store: str | None,
    config_file: str | None,
) -> None:
    """Run every request of INPUT.jsonl (OpenAI batch lines or Batchery's neutral lines).

    Running the same command again resumes an interrupted run instead of submitting twice.
    """
    loaded = settings_from(config_file, {"store": store})
    name = provider or loaded.settings.default_provider
    out = out or input_path.with_name(input_path.stem + ".results.jsonl")

    async def main() -> Summary:
        async with open_app(loaded, name, emulate=emulate, base_url=base_url) as ctx:
            outcome = await run_workload(
                ctx.service,
                input_path,
                provider=name,
                model=model,
                mode=Mode(mode),
                resume_key=None if emulate else (ctx.base_url or "default"),
            )
            await write_results(ctx.service, outcome.job.id, out)
            return summary_of(outcome)

    try:
        result = asyncio.run(main())
    except InvalidInputError as exc:
        click.echo(f"{input_path}: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    except ProviderError as exc:
        click.echo(
            f"error: {exc.message} ({exc.code}); the run is kept in the job store: "
            "run the same command again to resume it",
            err=True,
        )
        raise click.exceptions.Exit(1) from None
    encoded = msgspec.json.format(msgspec.json.encode(result), indent=2)
    if summary is not None:
        summary.write_bytes(encoded + b"\n")
    sys.stdout.write(encoded.decode() + "\n")
    click.echo(f"results: {out}", err=True)
