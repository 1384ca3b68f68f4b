"""One place that turns what went wrong into one line on stderr and a documented exit code.

A user's mistake or a broken environment is never shown as a traceback: commands raise
`CliError` (or a typed error this module knows), and `run_cli` prints one line naming the
item and what to do, then exits with the code `ExitCode` documents. Anything it does not
recognise is a bug and keeps its traceback.
"""

from __future__ import annotations

import click

from batchery.cli._exit import ExitCode
from batchery.secrets import shown_url

__all__ = ["CliError", "StoreInUse", "run_cli", "store_hint"]


class CliError(Exception):
    """A refusal the user can act on: `message` names the item and what to do."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class StoreInUse:
    """The store the running command opened, so a failure deep inside can name it."""

    url: str | None = None


def store_hint(url: str) -> None:
    """Remember the store this command uses, for messages about it (never its password)."""
    StoreInUse.url = shown_url(url)


def _usage_line(exc: click.UsageError) -> str:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def run_cli(group: click.Group) -> int:
    """Run the command line and return the exit code, with every known failure as one line.

    What a failure means is looked up only when one happens, so `--help` imports none of it.
    """
    try:
        code = group.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted: run the same command again to resume", err=True)
        return ExitCode.INTERRUPTED
    except click.UsageError as exc:
        click.echo(_usage_line(exc), err=True)
        return ExitCode.USAGE
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return ExitCode.USAGE if exc.exit_code == 1 else exc.exit_code
    except Exception as exc:
        from batchery.cli._explain import explain
        from batchery.logging import redact_text

        found = explain(exc)
        if found is None:
            raise
        click.echo(f"error: {redact_text(found[1])}", err=True)
        return found[0]
    return code if isinstance(code, int) else ExitCode.OK
