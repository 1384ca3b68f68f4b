"""Which `JobStore` a URL names.

A path or `sqlite:///path` is the built-in SQLite store. Any other scheme is looked up among
the installed `batchery.stores` entry points by its name (`postgresql` comes from the
`batchery-postgres` package), so core needs no database driver it does not use.
"""

from __future__ import annotations

from importlib import metadata
from typing import Protocol

from batchery.store.base import JobStore, StoreError
from batchery.store.sqlite import DEFAULT_BUSY_TIMEOUT_S, SqliteJobStore

__all__ = ["STORE_ENTRY_POINTS", "StoreFactory", "open_store"]

STORE_ENTRY_POINTS = "batchery.stores"


class StoreFactory(Protocol):
    """What a `batchery.stores` entry point loads: the store for a URL of its scheme."""

    def __call__(self, url: str, *, busy_timeout_s: float) -> JobStore: ...


def open_store(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> JobStore:
    """The store for a URL: a path or `sqlite:///path`; other schemes come from contrib packages.

    `busy_timeout_s` is how long a write waits for another process's transaction.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else "sqlite"
    if scheme == "sqlite":
        return SqliteJobStore(url, busy_timeout_s=busy_timeout_s)
    for entry_point in metadata.entry_points(group=STORE_ENTRY_POINTS, name=scheme):
        factory: StoreFactory = entry_point.load()
        return factory(url, busy_timeout_s=busy_timeout_s)
    hint = " (install batchery-postgres)" if scheme in ("postgresql", "postgres") else ""
    raise StoreError(f"no installed package provides a job store for {scheme}:// URLs{hint}")
