"""`batchery run`: one workload file in, exactly one result line per custom_id out.

Only the command's options live here; what it does is in `batchery.cli._running`, imported
when the command runs, so that `batchery run --help` starts at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from batchery.cli._exit import EXIT_CODES_HELP
from batchery.cli._workload import workload_options
from batchery.formats import FORMATS

__all__ = ["run_command"]


@click.command("run", epilog=EXIT_CODES_HELP)
@workload_options
@click.option(
    "--deadline",
    help="How long you can wait, e.g. 90s, 30m, 6h; auto mode and"
    " the batch-to-realtime fallback keep to it.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Results file: one JSON line per input custom_id (default INPUT.results.jsonl);"
    " - writes them to stdout, and nothing else goes there.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="batchery",
    show_default=True,
    help="Result lines: Batchery's (docs/results.md) or OpenAI's batch output lines,"
    " whichever provider ran them.",
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
@click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Refuse, rather than warn about, models the provider does not list"
    " and lines whose model overrides --model.",
)
def run_command(**options: Any) -> None:
    """Run every request of INPUT.jsonl (OpenAI batch lines or Batchery's neutral lines).

    Running the same command again resumes an interrupted run instead of submitting twice;
    on a finished run it sends again exactly the requests that ended with a retryable error
    (--retry-failed: every failed one). Answers already stored are never sent again.
    """
    from batchery.cli._running import execute

    execute(**options)
