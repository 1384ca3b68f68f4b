"""The `batchery` command."""

from __future__ import annotations

import click

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


@click.group()
@click.version_option(package_name="batchery")
def cli() -> None:
    """Run large LLM workloads at the lowest cost that still meets the deadline."""


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
    cli()
