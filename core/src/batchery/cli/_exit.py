"""The exit codes every `batchery` command keeps, so a script can tell outcomes apart."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """Documented in `batchery --help` and the README; never reuse a number for another meaning."""

    OK = 0
    """Every request succeeded (or the command did what it was asked)."""
    SOME_FAILED = 1
    """The run finished and some requests ended with an error."""
    USAGE = 2
    """Bad input or usage: nothing was sent."""
    CANCELLED = 3
    """The run was cancelled."""
    PROVIDER_UNAVAILABLE = 4
    """The provider (or a Batchery server) was unreachable, or the key is missing or was
    refused: nothing could be sent."""
    ENVIRONMENT = 5
    """The environment: the store, an input or output path is unusable, a port is taken, or
    the store stayed busy."""
    HELD_ELSEWHERE = 6
    """Another process drives this run, or this process lost its lease to one."""
    INTERRUPTED = 130
    """Interrupted by the user (Ctrl-C or SIGINT)."""
