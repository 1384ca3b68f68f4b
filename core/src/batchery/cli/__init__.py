"""The `batchery` command.

Subcommands are imported on first use: `batchery --help` lists them from the table below, and
`batchery run` never pays for the server stack or the other commands' dependencies.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Final, NamedTuple

import click

from batchery.cli._context import LOGGING_META
from batchery.cli._exit import EXIT_CODES_HELP

__all__ = ["COMMANDS", "cli", "main"]


class _Lazy(NamedTuple):
    target: str
    """`module:attribute` of the click command."""
    help: str
    """The line `batchery --help` shows; a test holds it equal to the command's own."""


COMMANDS: Final = {
    "cache": _Lazy(
        "batchery.cli.costs:cache_group",
        "The result cache: answers reused when the same request runs again.",
    ),
    "config": _Lazy(
        "batchery.cli.config:config_command",
        "Show every effective setting with its source, and which provider keys are set.",
    ),
    "costs": _Lazy(
        "batchery.cli.costs:costs_command",
        "Spend by day, endpoint, model and mode, with what realtime would have cost.",
    ),
    "demo": _Lazy(
        "batchery.cli.demo:demo_command",
        "Run sample items through infer-atoms → verify on the local OpenAI emulator.",
    ),
    "emulate": _Lazy(
        "batchery.cli.emulate:emulate_command",
        "Serve the NAME provider's API on HOST:PORT; the first line printed is its address.",
    ),
    "jobs": _Lazy(
        "batchery.cli.jobs:jobs_group",
        "List, inspect, resume, cancel and export jobs in the job store.",
    ),
    "providers": _Lazy(
        "batchery.cli.providers:providers_command",
        "List installed provider plugins; a plugin that fails to load is shown with its error.",
    ),
    "run": _Lazy(
        "batchery.cli.run:run_command",
        "Run every request of INPUT.jsonl (OpenAI batch lines or Batchery's neutral lines).",
    ),
    "serve": _Lazy(
        "batchery.cli.serve:serve_command",
        "Serve run progress: REST snapshots, a WebSocket feed per run and a live page.",
    ),
    "submit": _Lazy(
        "batchery.cli.submit:submit_command",
        "Queue every request of INPUT.jsonl as one run and print its id; a worker runs it.",
    ),
    "watch": _Lazy(
        "batchery.cli.watch:watch_command",
        "Follow RUN_ID on a Batchery server until it finishes.",
    ),
    "worker": _Lazy(
        "batchery.cli.worker:worker_command",
        "Run queued work from the PostgreSQL store until SIGTERM, which drains and exits 0.",
    ),
}
"""Every subcommand: where it lives and its one-line help, in the order `--help` lists them."""


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        module, _, attribute = lazy.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [
            (name, click.Command(name, help=lazy.help).get_short_help_str(limit))
            for name, lazy in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, epilog=EXIT_CODES_HELP)
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


def main() -> None:
    from batchery.cli._errors import run_cli

    sys.exit(run_cli(cli))
