"""The result cache and the run history, kept in the same SQLite file as the jobs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from batchery.model import LlmResult
from batchery.store._sqlite_db import SqliteDb, decode, encode
from batchery.store.base import CostRow

__all__ = ["SqliteHistory", "SqliteResultCache"]

_LOOKUP_BATCH = 500


class SqliteResultCache:
    def __init__(self, db: SqliteDb) -> None:
        self._db = db

    async def get_many(self, keys: Sequence[str]) -> dict[str, LlmResult]:
        found: dict[str, LlmResult] = {}
        for start in range(0, len(keys), _LOOKUP_BATCH):
            part = keys[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            async with self._db.conn.execute(
                f"SELECT key, body FROM result_cache WHERE key IN ({marks})", part
            ) as cur:
                found.update({row[0]: decode(row[1], LlmResult) async for row in cur})
        return found

    async def put_many(self, entries: Iterable[tuple[str, LlmResult]]) -> None:
        now = time.time()
        async with self._db.write() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO result_cache (key, body, created_at) VALUES (?,?,?)",
                [(key, encode(result), now) for key, result in entries],
            )

    async def prune(self, older_than: float) -> int:
        async with self._db.write() as db:
            cur = await db.execute("DELETE FROM result_cache WHERE created_at < ?", (older_than,))
            removed = cur.rowcount
            await cur.close()
        return removed


class SqliteHistory:
    def __init__(self, db: SqliteDb) -> None:
        self._db = db

    async def record_turnaround(
        self, provider: str, model: str | None, requests: int, seconds: float
    ) -> None:
        async with self._db.write() as db:
            await db.execute(
                "INSERT INTO turnarounds (provider, model, requests, seconds, finished_at)"
                " VALUES (?,?,?,?,?)",
                (provider, model, requests, seconds, time.time()),
            )

    async def turnarounds(
        self, provider: str, model: str | None, *, limit: int = 50
    ) -> list[tuple[int, float]]:
        async with self._db.conn.execute(
            "SELECT requests, seconds FROM turnarounds WHERE provider = ? AND model IS ?"
            " ORDER BY finished_at DESC LIMIT ?",
            (provider, model, limit),
        ) as cur:
            return [(int(row[0]), float(row[1])) async for row in cur]

    async def cost_report(self, *, since: float | None = None) -> list[CostRow]:
        async with self._db.conn.execute(
            "SELECT json_extract(j.body, '$.provider'), json_extract(r.body, '$.model'), r.mode,"
            " date(r.created_at, 'unixepoch'), count(*), coalesce(sum(r.cost_usd), 0),"
            " coalesce(sum(r.realtime_cost_usd), 0), coalesce(sum(r.cached), 0)"
            " FROM results r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.created_at >= ? GROUP BY 1, 2, 3, 4 ORDER BY 4, 1, 2, 3",
            (since or 0.0,),
        ) as cur:
            return [
                CostRow(
                    provider=row[0],
                    model=row[1],
                    mode=row[2],
                    day=row[3],
                    requests=int(row[4]),
                    cost_usd=round(float(row[5]), 8),
                    realtime_cost_usd=round(float(row[6]), 8),
                    cached=int(row[7]),
                )
                async for row in cur
            ]
