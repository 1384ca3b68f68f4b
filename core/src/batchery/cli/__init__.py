"""The `batchery` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from batchery.cli._common import LOGGING_META
from batchery.cli._errors import run_cli
from batchery.cli._exit import EXIT_CODES_HELP
from batchery.cli.config import config_command
from batchery.cli.costs import cache_group, costs_command
from batchery.cli.demo import demo_command
from batchery.cli.emulate import emulate_command
from batchery.cli.jobs import jobs_group
from batchery.cli.providers import providers_command
from batchery.cli.run import run_command
from batchery.cli.serve import serve_command
from batchery.cli.watch import watch_command

__all__ = ["cli", "main"]


@click.group(epilog=EXIT_CODES_HELP)
@click.version_option(package_name="batchery")
@click.option("-v", "--verbose", count=True, help="Show info logs; -vv shows debug logs too.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every log line as JSON to this file (at least info level).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_file: Path | None) -> None:
    """Run large LLM workloads at the lowest cost that still meets the deadline."""
    ctx.meta[LOGGING_META] = (verbose, log_file)


for command in (
    run_command,
    demo_command,
    emulate_command,
    jobs_group,
    providers_command,
    config_command,
    costs_command,
    cache_group,
    serve_command,
    watch_command,
):
    cli.add_command(command)


def main() -> None:
    sys.exit(run_cli(cli))
