"""The result cache and the run history, kept in the same SQLite file as the jobs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from batchery.model import Endpoint, LlmResult, Mode
from batchery.store._sqlite_db import SqliteDb, decode, encode
from batchery.store.base import CostRow, RunSpend, SpendKey

__all__ = ["SqliteHistory", "SqliteResultCache"]

_SPEND_KEYS: dict[str, str] = {
    "day": "date(r.created_at, 'unixepoch')",
    "provider": "json_extract(j.body, '$.provider')",
    "model": "json_extract(r.body, '$.model')",
    "mode": "r.mode",
}

_LOOKUP_BATCH = 500
_REMEMBER_PAGE = 20_000


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

    async def put_many(
        self, entries: Iterable[tuple[str, LlmResult]], *, endpoint: Endpoint
    ) -> None:
        now = time.time()
        where = (endpoint.key, endpoint.base_url, int(endpoint.emulated))
        async with self._db.write() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO result_cache"
                " (key, body, created_at, endpoint, base_url, emulated) VALUES (?,?,?,?,?,?)",
                [(key, encode(result), now, *where) for key, result in entries],
            )

    async def remember_job(
        self,
        job_id: str,
        *,
        endpoint: Endpoint,
        chunk_id: str | None = None,
        mode: Mode | None = None,
    ) -> int:
        """A page of the ledger per transaction, so the write lock is never held for long."""
        now = time.time()
        where = (endpoint.key, endpoint.base_url, int(endpoint.emulated))
        scope = (" AND r.chunk_id = ?" if chunk_id else "") + (" AND s.mode = ?" if mode else "")
        extra = tuple(value for value in (chunk_id, mode) if value)
        bounds = await self._db.one(
            "SELECT min(idx), max(idx) FROM requests WHERE job_id = ?"
            + (" AND chunk_id = ?" if chunk_id else ""),
            job_id,
            *((chunk_id,) if chunk_id else ()),
        )
        if bounds is None or bounds[0] is None:
            return 0
        stored = 0
        for start in range(int(bounds[0]), int(bounds[1]) + 1, _REMEMBER_PAGE):
            async with self._db.write() as db:
                cur = await db.execute(
                    "INSERT OR REPLACE INTO result_cache"
                    " (key, body, created_at, endpoint, base_url, emulated)"
                    " SELECT r.cache_key, s.body, ?, ?, ?, ? FROM requests r JOIN results s"
                    " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
                    " WHERE r.job_id = ? AND r.idx >= ? AND r.idx < ?"
                    f" AND r.cache_key IS NOT NULL AND s.ok = 1 AND s.cached = 0{scope}",
                    (now, *where, job_id, start, start + _REMEMBER_PAGE, *extra),
                )
                stored += max(cur.rowcount, 0)
                await cur.close()
        return stored

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
        self, endpoint: Endpoint, model: str | None, requests: int, seconds: float
    ) -> None:
        async with self._db.write() as db:
            await db.execute(
                "INSERT INTO turnarounds (provider, endpoint, model, requests, seconds,"
                " finished_at) VALUES (?,?,?,?,?,?)",
                (endpoint.provider, endpoint.key, model, requests, seconds, time.time()),
            )

    async def turnarounds(
        self, endpoint: Endpoint, model: str | None, *, limit: int = 50
    ) -> list[tuple[int, float]]:
        async with self._db.conn.execute(
            "SELECT requests, seconds FROM turnarounds WHERE endpoint = ? AND model IS ?"
            " ORDER BY finished_at DESC LIMIT ?",
            (endpoint.key, model, limit),
        ) as cur:
            return [(int(row[0]), float(row[1])) async for row in cur]

    async def cost_report(
        self, *, since: float | None = None, emulated: bool = False
    ) -> list[CostRow]:
        async with self._db.conn.execute(
            "SELECT json_extract(j.body, '$.provider'), json_extract(r.body, '$.model'), r.mode,"
            " date(r.created_at, 'unixepoch'), json_extract(j.body, '$.endpoint.base_url'),"
            " coalesce(json_extract(j.body, '$.endpoint.emulated'), 0) AS emulated,"
            " json_extract(j.body, '$.endpoint') IS NOT NULL, count(*),"
            " coalesce(sum(r.cost_usd), 0), coalesce(sum(r.realtime_cost_usd), 0),"
            " coalesce(sum(r.cached), 0)"
            " FROM results r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.created_at >= ? AND (? OR emulated = 0)"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 4, 1, 5, 6, 2, 3",
            (since or 0.0, int(emulated)),
        ) as cur:
            return [
                CostRow(
                    provider=row[0],
                    model=row[1],
                    mode=row[2],
                    day=row[3],
                    base_url=row[4],
                    emulated=bool(row[5]),
                    recorded=bool(row[6]),
                    requests=int(row[7]),
                    cost_usd=round(float(row[8]), 8),
                    realtime_cost_usd=round(float(row[9]), 8),
                    cached=int(row[10]),
                )
                async for row in cur
            ]

    async def spend_by_run(self, by: SpendKey, *, since: float | None = None) -> list[RunSpend]:
        key = _SPEND_KEYS[by]
        async with self._db.conn.execute(
            f"SELECT r.job_id, coalesce({key}, ''), count(*), coalesce(sum(r.cost_usd), 0),"
            " coalesce(sum(r.realtime_cost_usd), 0), coalesce(sum(r.cached), 0)"
            " FROM results r JOIN jobs j ON j.id = r.job_id WHERE r.created_at >= ?"
            " GROUP BY 1, 2 ORDER BY 2, 1",
            (since or 0.0,),
        ) as cur:
            return [RunSpend.from_row(row) async for row in cur]
