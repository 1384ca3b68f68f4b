"""What a failure means for the person at the terminal: its exit code and one line.

`run_cli` asks only when a command failed; anything not recognised here is a bug and keeps
its traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

from batchery.cli._errors import CliError, StoreInUse
from batchery.cli._exit import ExitCode
from batchery.client import ClientError
from batchery.service import InvalidInputError, ModeUnavailableError
from batchery.settings import SettingsError
from batchery.spi import ProviderError
from batchery.store import (
    JobHeldError,
    LeaseLostError,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
)

__all__ = ["UNREACHABLE_CODES", "explain"]

UNREACHABLE_CODES = frozenset({"connection_error", "timeout", "auth", "permission_denied"})
"""Error codes that mean the provider could not be reached or refused the credentials."""


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
        f"cannot use the job store {StoreInUse.url or ''}: {cause}; "
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
            case StoreBusyError() | StoreUnavailableError():
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
                    f"the job store {StoreInUse.url or ''} stayed busy: another process "
                    "holds it; try again when that process is done"
                )
            case sqlite3.Error():
                return ExitCode.ENVIRONMENT, _store_line(str(item))
            case StoreError():
                return ExitCode.USAGE, str(item)
            case OSError() if item.filename is not None:
                return ExitCode.ENVIRONMENT, _os_line(item)
    return None
