"""Every SQLite connection a test opens is closed by the end of the session.

An aiosqlite connection left open keeps a non-daemon worker thread, and the interpreter waits
for it at exit: one forgotten store hangs the whole run after its last test. The suite records
where each connection was opened; a connection still open at the end fails the session with
that place named, and is stopped so the run ends.
"""

from __future__ import annotations

import os
import traceback
import weakref
from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest
import structlog

# pytest-xdist sets COLUMNS=80 in its workers; the commands tests start print their tables as
# wide as on any pipe, however the suite is run.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
# The hundreds of `batchery` processes the suite starts load cached bytecode, as an installed
# command does, rather than each compiling the workspace's modules again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

_opened: weakref.WeakKeyDictionary[aiosqlite.Connection, str] = weakref.WeakKeyDictionary()
_init = aiosqlite.Connection.__init__


def _recording_init(self: aiosqlite.Connection, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    _opened[self] = "".join(traceback.format_stack(limit=12)[:-1])


aiosqlite.Connection.__init__ = _recording_init  # type: ignore[method-assign]


def _still_open() -> list[tuple[aiosqlite.Connection, str]]:
    return [(c, where) for c, where in list(_opened.items()) if c._thread.is_alive()]


@pytest.fixture(autouse=True)
def _structlog_as_it_was() -> Iterator[None]:
    """A test that configures logging (the CLI's level, say) leaves the next test's as it was,
    whichever worker runs which test after which."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import gc

    gc.collect()
    leaked = _still_open()
    if not leaked:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for connection, where in leaked:
        if reporter is not None:
            reporter.write_line(f"a SQLite connection was never closed; opened at:\n{where}")
        connection.stop()
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
