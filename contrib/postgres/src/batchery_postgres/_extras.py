"""The result cache and the run history, in the same PostgreSQL schema as the jobs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from batchery.model import Endpoint, LlmResult, Mode
from batchery.store import CostRow, RunSpend, SpendKey

from batchery_postgres._db import PgDb, decode, encode

__all__ = ["PgHistory", "PgResultCache"]

_COST_REPORT = """
SELECT j.doc->>'provider', r.model, r.mode,
       to_char(to_timestamp(r.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       j.doc->'endpoint'->>'base_url',
       coalesce((j.doc->'endpoint'->>'emulated')::boolean, false) AS emulated,
       jsonb_typeof(j.doc->'endpoint') = 'object',
       count(*), coalesce(sum(r.cost_usd), 0), coalesce(sum(r.realtime_cost_usd), 0),
       count(*) FILTER (WHERE r.cached)
FROM (SELECT job_id, mode, cost_usd, realtime_cost_usd, cached, created_at,
             convert_from(body, 'UTF8')::jsonb->>'model' AS model
      FROM results WHERE created_at >= %s) r
JOIN (SELECT id, convert_from(body, 'UTF8')::jsonb AS doc FROM jobs) j ON j.id = r.job_id
WHERE %s OR NOT coalesce((j.doc->'endpoint'->>'emulated')::boolean, false)
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 4, 1 NULLS FIRST, 5 NULLS FIRST, 6, 2 NULLS FIRST, 3 NULLS FIRST
"""

_SPEND_KEYS: dict[str, str] = {
    "day": "to_char(to_timestamp(r.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "provider": "j.provider",
    "model": "convert_from(r.body, 'UTF8')::jsonb->>'model'",
    "mode": "r.mode",
}


class PgResultCache:
    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def get_many(self, keys: Sequence[str]) -> dict[str, LlmResult]:
        if not keys:
            return {}
        rows = await self._db.all(
            "SELECT key, body FROM result_cache WHERE key = ANY(%s)", list(keys)
        )
        return {key: decode(body, LlmResult) for key, body in rows}

    async def put_many(
        self, entries: Iterable[tuple[str, LlmResult]], *, endpoint: Endpoint
    ) -> None:
        latest = {key: encode(result) for key, result in entries}
        if not latest:
            return
        async with self._db.conn() as conn:
            await conn.execute(
                "INSERT INTO result_cache (key, body, created_at, endpoint, base_url, emulated)"
                " SELECT k, b, %s, %s, %s, %s FROM unnest(%s::text[], %s::bytea[]) AS v(k, b)"
                " ON CONFLICT (key) DO UPDATE SET body = excluded.body,"
                " created_at = excluded.created_at, endpoint = excluded.endpoint,"
                " base_url = excluded.base_url, emulated = excluded.emulated",
                (
                    time.time(),
                    endpoint.key,
                    endpoint.base_url,
                    endpoint.emulated,
                    list(latest),
                    list(latest.values()),
                ),
            )

    async def remember_job(
        self,
        job_id: str,
        *,
        endpoint: Endpoint,
        chunk_id: str | None = None,
        mode: Mode | None = None,
    ) -> int:
        """One statement inside the database; requests of the job that share a key (the same
        request under two custom_ids) cache the answer of the first in input order."""
        given = None if mode is None else str(mode)
        return await self._db.run(
            "INSERT INTO result_cache (key, body, created_at, endpoint, base_url, emulated)"
            " SELECT DISTINCT ON (r.cache_key) r.cache_key, s.body, %s, %s, %s, %s"
            " FROM requests r JOIN results s ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
            " WHERE r.job_id = %s AND r.cache_key IS NOT NULL AND s.ok AND NOT s.cached"
            " AND (%s::text IS NULL OR r.chunk_id = %s) AND (%s::text IS NULL OR s.mode = %s)"
            " ORDER BY r.cache_key, r.idx"
            " ON CONFLICT (key) DO UPDATE SET body = excluded.body,"
            " created_at = excluded.created_at, endpoint = excluded.endpoint,"
            " base_url = excluded.base_url, emulated = excluded.emulated",
            time.time(),
            endpoint.key,
            endpoint.base_url,
            endpoint.emulated,
            job_id,
            chunk_id,
            chunk_id,
            given,
            given,
        )

    async def prune(self, older_than: float) -> int:
        return await self._db.run("DELETE FROM result_cache WHERE created_at < %s", older_than)


class PgHistory:
    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def record_turnaround(
        self, endpoint: Endpoint, model: str | None, requests: int, seconds: float
    ) -> None:
        await self._db.run(
            "INSERT INTO turnarounds (provider, endpoint, model, requests, seconds, finished_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            endpoint.provider,
            endpoint.key,
            model,
            requests,
            seconds,
            time.time(),
        )

    async def turnarounds(
        self, endpoint: Endpoint, model: str | None, *, limit: int = 50
    ) -> list[tuple[int, float]]:
        rows = await self._db.all(
            "SELECT requests, seconds FROM turnarounds WHERE endpoint = %s"
            " AND model IS NOT DISTINCT FROM %s ORDER BY finished_at DESC, id DESC LIMIT %s",
            endpoint.key,
            model,
            limit,
        )
        return [(int(row[0]), float(row[1])) for row in rows]

    async def cost_report(
        self, *, since: float | None = None, emulated: bool = False
    ) -> list[CostRow]:
        rows = await self._db.all(_COST_REPORT, since or 0.0, emulated)
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
            for row in rows
        ]

    async def spend_by_run(self, by: SpendKey, *, since: float | None = None) -> list[RunSpend]:
        key = _SPEND_KEYS[by]
        rows = await self._db.all(
            f"SELECT r.job_id, coalesce({key}, ''), count(*), coalesce(sum(r.cost_usd), 0),"
            " coalesce(sum(r.realtime_cost_usd), 0), count(*) FILTER (WHERE r.cached)"
            " FROM results r JOIN (SELECT id, convert_from(body, 'UTF8')::jsonb->>'provider'"
            " AS provider FROM jobs) j ON j.id = r.job_id WHERE r.created_at >= %s"
            " GROUP BY 1, 2 ORDER BY 2, 1",
            since or 0.0,
        )
        return [RunSpend.from_row(row) for row in rows]
