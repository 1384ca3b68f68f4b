"""A job's outcomes in PostgreSQL: results stored once per `(job, custom_id)`, quarantined
lines, counts, and dropping error results when a finished job is reopened.

Results go in a page at a time as arrays (`unnest`), one statement per page, joined to their
requests (one index lookup each, `LATERAL`, so a page costs the same in a job of any size):
a result whose `custom_id` the job (or its chunk) does not hold matches no request
and is not stored, and one already stored is left as it was (`ON CONFLICT DO NOTHING`). Each
result keeps its request's input position (`idx`), so results read back in input order from
their own index, without a join.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from batchery.model import LlmResult
from batchery.spi import MalformedLine
from batchery.store import JobCounts, Lease

from batchery_postgres._db import PAGE, Conn, PgDb, decode, encode, fenced

__all__ = ["PgResults"]

_INSERT = """
INSERT INTO results (job_id, custom_id, idx, ok, body, mode, cost_usd, realtime_cost_usd,
                     cached, created_at)
SELECT %(job)s, v.custom_id, r.idx, v.ok, v.body, v.mode, v.cost, v.realtime, v.cached, %(now)s
FROM unnest(%(ids)s::text[], %(oks)s::boolean[], %(bodies)s::bytea[], %(modes)s::text[],
            %(costs)s::float8[], %(realtimes)s::float8[], %(cacheds)s::boolean[])
     WITH ORDINALITY AS v(custom_id, ok, body, mode, cost, realtime, cached, n)
CROSS JOIN LATERAL (
    SELECT idx FROM requests WHERE job_id = %(job)s AND custom_id = v.custom_id
    AND (%(chunk)s::text IS NULL OR chunk_id = %(chunk)s) LIMIT 1
) AS r
ORDER BY v.n
ON CONFLICT DO NOTHING
"""

_UNKNOWN = """
SELECT v.custom_id FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS v(custom_id, n)
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.job_id = %(job)s
                  AND r.custom_id = v.custom_id
                  AND (%(chunk)s::text IS NULL OR r.chunk_id = %(chunk)s))
ORDER BY v.n
"""

_COUNTS = """
SELECT (SELECT count(*) FROM requests WHERE job_id = %s),
       count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
       coalesce(sum(cost_usd), 0), coalesce(sum(realtime_cost_usd), 0),
       count(*) FILTER (WHERE cached),
       count(*) FILTER (WHERE ok AND cost_usd IS NULL AND NOT cached)
FROM results WHERE job_id = %s
"""


class PgResults:
    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def save(
        self, lease: Lease, results: Iterable[LlmResult], *, chunk_id: str | None = None
    ) -> tuple[int, list[str]]:
        stored = 0
        unknown: list[str] = []
        now = time.time()
        async with self._db.tx() as conn:
            await fenced(conn, lease)
            for given in _pages(results):
                # Rows in key order, so two writers of the same results wait on each other
                # instead of deadlocking.
                page = sorted(given, key=lambda r: r.custom_id)
                params = {
                    "job": lease.job_id,
                    "chunk": chunk_id,
                    "now": now,
                    "ids": [r.custom_id for r in page],
                    "oks": [r.ok for r in page],
                    "bodies": [encode(r) for r in page],
                    "modes": [r.mode for r in page],
                    "costs": [r.cost_usd for r in page],
                    "realtimes": [r.realtime_cost_usd for r in page],
                    "cacheds": [r.cached for r in page],
                }
                cur = await conn.execute(_INSERT, params)
                stored += cur.rowcount
                if cur.rowcount < len(page):
                    cur = await conn.execute(_UNKNOWN, params)
                    missing = {row[0] for row in await cur.fetchall()}
                    unknown.extend(r.custom_id for r in given if r.custom_id in missing)
        return stored, unknown

    async def drop_errors(self, conn: Conn, job_id: str, *, permanent: bool) -> int:
        """Delete the job's retryable error results (every error result when `permanent`);
        returns how many of its requests are then without a result."""
        await conn.execute(
            "DELETE FROM results WHERE job_id = %s AND NOT ok AND (%s OR"
            " (convert_from(body, 'UTF8')::jsonb #>> '{error,retryable}')::boolean)",
            (job_id, permanent),
        )
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM requests WHERE job_id = %s)"
            " - (SELECT count(*) FROM results WHERE job_id = %s)",
            (job_id, job_id),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def missing_in_chunk(self, chunk_id: str) -> list[str]:
        rows = await self._db.all(
            "SELECT r.custom_id FROM requests r WHERE r.chunk_id = %s AND NOT EXISTS"
            " (SELECT 1 FROM results s WHERE s.job_id = r.job_id AND s.idx = r.idx)"
            " ORDER BY r.idx",
            chunk_id,
        )
        return [row[0] for row in rows]

    async def quarantine(self, lease: Lease, chunk_id: str, lines: Iterable[MalformedLine]) -> None:
        bodies = [encode(line) for line in lines]
        async with self._db.tx() as conn:
            await fenced(conn, lease)
            await conn.execute(
                "INSERT INTO quarantine (job_id, chunk_id, body)"
                " SELECT %s, %s, b FROM unnest(%s::bytea[]) WITH ORDINALITY AS v(b, n)"
                " ORDER BY n",
                (lease.job_id, chunk_id, bodies),
            )

    async def quarantined(self, job_id: str) -> list[MalformedLine]:
        rows = await self._db.all(
            "SELECT body FROM quarantine WHERE job_id = %s ORDER BY id", job_id
        )
        return [decode(row[0], MalformedLine) for row in rows]

    async def counts(self, job_id: str) -> JobCounts:
        rows = await self._db.all(_COUNTS, job_id, job_id)
        row = rows[0]
        return JobCounts(
            int(row[0]),
            int(row[1]),
            int(row[2]),
            cost_usd=round(float(row[3]), 8),
            realtime_cost_usd=round(float(row[4]), 8),
            cached=int(row[5]),
            unpriced=int(row[6]),
        )


def _pages(results: Iterable[LlmResult]) -> Iterator[list[LlmResult]]:
    page: list[LlmResult] = []
    for result in results:
        page.append(result)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page
