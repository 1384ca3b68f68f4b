"""Which tenant owns which run.

The job store does not record tenants yet, so the server keeps its own table. Code that starts a
run for a tenant does so inside `acting_for(tenant)`; the server sees the run's first event
under that context and records the owner before the event is published, so no subscriber ever
sees a run before its owner is known. Runs with no recorded owner (started by another process,
say) belong to the configured default tenant, or to nobody.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

import aiosqlite

__all__ = ["RunOwners", "acting_for", "acting_tenant"]

_tenant: ContextVar[str | None] = ContextVar("batchery_acting_tenant", default=None)

_CACHE_SIZE: Final = 10_000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS run_owners (
    run_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL
)
"""


@contextmanager
def acting_for(tenant: str) -> Iterator[None]:
    """Runs started inside this block belong to `tenant`."""
    token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(token)


def acting_tenant() -> str | None:
    return _tenant.get()


class RunOwners:
    """Run -> tenant, in a small SQLite table of its own (`:memory:` for an ephemeral server)."""

    def __init__(self, path: str, default_tenant: str | None) -> None:
        self._path = path
        self._default = default_tenant
        self._db: aiosqlite.Connection | None = None
        self._known: OrderedDict[str, str] = OrderedDict()

    async def open(self) -> None:
        db = await aiosqlite.connect(self._path, isolation_level=None)
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the run owner table is not open")
        return self._db

    async def record(self, run_id: str, tenant: str) -> None:
        """Give `run_id` to `tenant` unless it already has an owner (the first one stays)."""
        if run_id in self._known:
            return
        await self._conn.execute(
            "INSERT OR IGNORE INTO run_owners (run_id, tenant) VALUES (?, ?)", (run_id, tenant)
        )
        await self.owner(run_id)

    async def owner(self, run_id: str) -> str | None:
        known = self._known.get(run_id)
        if known is not None:
            self._known.move_to_end(run_id)
            return known
        async with self._conn.execute(
            "SELECT tenant FROM run_owners WHERE run_id = ?", (run_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return self._default
        tenant = str(row[0])
        self._known[run_id] = tenant
        if len(self._known) > _CACHE_SIZE:
            self._known.popitem(last=False)
        return tenant

    async def owns(self, tenant: str, run_id: str) -> bool:
        return await self.owner(run_id) == tenant
