"""One place that turns what went wrong into one line on stderr and a documented exit code.

A user's mistake or a broken environment is never shown as a traceback: commands raise
`CliError` (or a typed error this module knows), and `run_cli` prints one line naming the
item and what to do, then exits with the code `ExitCode` documents. Anything it does not
recognise is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

import click

from batchery.cli._exit import ExitCode
from batchery.client import ClientError
from batchery.logging import redact_text
from batchery.service import InvalidInputError, ModeUnavailableError
from batchery.settings import SettingsError
from batchery.spi import ProviderError
from batchery.store import JobHeldError, LeaseLostError, StoreBusyError, StoreError

__all__ = ["UNREACHABLE_CODES", "CliError", "run_cli", "store_hint"]

UNREACHABLE_CODES = frozenset({"connection_error", "timeout", "auth", "permission_denied"})
"""Error codes that mean the provider could not be reached or refused the credentials."""


class CliError(Exception):
    """A refusal the user can act on: `message` names the item and what to do."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _StoreInUse:
    """The store the running command opened, so a failure deep inside can name it."""

    url: str | None = None


def store_hint(url: str) -> None:
    """Remember the store this command uses, for messages about it."""
    _StoreInUse.url = url


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from (`raise ... from`), never what it was merely raised
    during, so a bug in an error handler is not taken for the error it handled."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _store_line(cause: str) -> str:
    return (
        f"cannot use the job store {_StoreInUse.url or ''}: {cause}; "
        "pass --store PATH (or set BATCHERY_STORE) to a writable location"
    )


def _os_line(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{exc.filename}: {reason}; check its permissions or choose another path"
    return f"{exc.filename}: {reason}"


def explain(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and the one line for `exc`, or None for a bug that keeps its traceback."""
    for item in _causes(exc):
        match item:
            case CliError():
                return item.code, item.message
            case LeaseLostError():
                return ExitCode.HELD_ELSEWHERE, (
                    f"{item}: another process now drives this run; "
                    "follow it with `batchery jobs show`, or run the same command once it ends"
                )
            case JobHeldError():
                return ExitCode.HELD_ELSEWHERE, f"{item}; follow it with the same command"
            case StoreBusyError():
                return ExitCode.ENVIRONMENT, str(item)
            case InvalidInputError() | ModeUnavailableError() | SettingsError():
                return ExitCode.USAGE, str(item)
            case ProviderError() if item.code in UNREACHABLE_CODES or item.status in (401, 403):
                return ExitCode.PROVIDER_UNAVAILABLE, (
                    f"{item.message}: nothing could be sent; check the base URL, the network "
                    "and the API key, then run the same command again"
                )
            case ProviderError():
                return ExitCode.SOME_FAILED, (
                    f"{item.message} ({item.code}); the run is kept in the job store: "
                    "run the same command again to resume it"
                )
            case ClientError() if item.status in (0, 401, 403):
                return ExitCode.PROVIDER_UNAVAILABLE, f"{item}: check --url and the token"
            case ClientError():
                return ExitCode.USAGE, str(item)
            case sqlite3.OperationalError() if "locked" in str(item) or "busy" in str(item):
                return ExitCode.ENVIRONMENT, (
                    f"the job store {_StoreInUse.url or ''} stayed busy: another process "
                    "holds it; try again when that process is done"
                )
            case sqlite3.Error():
                return ExitCode.ENVIRONMENT, _store_line(str(item))
            case StoreError():
                return ExitCode.USAGE, str(item)
            case OSError() if item.filename is not None:
                return ExitCode.ENVIRONMENT, _os_line(item)
    return None


def _usage_line(exc: click.UsageError) -> str:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"


def run_cli(group: click.Group) -> int:
    """Run the command line and return the exit code, with every known failure as one line."""
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
        found = explain(exc)
        if found is None:
            raise
        click.echo(f"error: {redact_text(found[1])}", err=True)
        return found[0]
    return code if isinstance(code, int) else ExitCode.OK
