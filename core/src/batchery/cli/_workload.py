"""The input file and the options every command that takes a workload shares, declared once,
so `run` and `submit` cannot drift apart in what they accept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from batchery.model import Mode

__all__ = ["workload_options"]

_F = TypeVar("_F", bound=Callable[..., Any])

_DECLARED = (
    click.argument(
        "input_path",
        metavar="INPUT.jsonl",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    ),
    click.option("--provider", help="Provider to run on (default: the default_provider setting)."),
    click.option("--model", help="Model for requests that name none."),
    click.option(
        "--mode",
        type=click.Choice([m.value for m in Mode]),
        default=Mode.AUTO.value,
        show_default=True,
    ),
)


def workload_options(command: _F) -> _F:
    """INPUT.jsonl, --provider, --model and --mode, in that order in `--help`."""
    for declare in reversed(_DECLARED):
        command = declare(command)
    return command
