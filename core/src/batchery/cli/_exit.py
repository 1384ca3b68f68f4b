"""The exit codes every `batchery` command keeps, so a script can tell outcomes apart."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EXIT_CODES_HELP", "ExitCode"]


class ExitCode(IntEnum):
    """Documented in `batchery --help` and the README; never reuse a number for another meaning."""

    OK = 0
    SOME_FAILED = 1
    USAGE = 2
    CANCELLED = 3
    PROVIDER_UNAVAILABLE = 4
    ENVIRONMENT = 5
    HELD_ELSEWHERE = 6
    INTERRUPTED = 130


_MEANINGS = {
    ExitCode.OK: "every request succeeded (or the command did what it was asked)",
    ExitCode.SOME_FAILED: "the run finished and some requests failed",
    ExitCode.USAGE: "bad input or usage: nothing was sent",
    ExitCode.CANCELLED: "the run was cancelled",
    ExitCode.PROVIDER_UNAVAILABLE: "provider or server unreachable, or the key missing or refused",
    ExitCode.ENVIRONMENT: "a store, input or output path or a port is unusable, or the store busy",
    ExitCode.HELD_ELSEWHERE: "another process drives this run, or this process lost it to one",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); the same command again resumes",
}

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code.value:<4} {meaning}" for code, meaning in _MEANINGS.items()
)
"""The help epilog that lists every code; `\\b` keeps click from rewrapping it."""
