"""A Batchery job store on PostgreSQL: `--store postgresql://user:password@host/db`.

Installed, it is what `batchery.store.open_store` opens for `postgresql://` and
`postgres://` URLs (the `batchery.stores` entry points), so `batchery run`, `serve` and every
other command work on it unchanged.
"""

from batchery.store import DEFAULT_BUSY_TIMEOUT_S, JobStore

from batchery_postgres._schema import MIGRATIONS
from batchery_postgres.store import DEFAULT_TENANT, PostgresJobStore

__all__ = ["DEFAULT_TENANT", "MIGRATIONS", "PostgresJobStore", "open_postgres_store"]


def open_postgres_store(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> JobStore:
    """The `batchery.stores` entry point: the store for a `postgresql://` URL, not yet open."""
    return PostgresJobStore(url, busy_timeout_s=busy_timeout_s)
