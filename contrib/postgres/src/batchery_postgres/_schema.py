"""The PostgreSQL schema as numbered migrations, applied at open under an advisory lock.

The applied numbers live in `batchery_migrations`. Every process that opens the store takes
the same transaction-scoped advisory lock (one per schema) before reading them, so two
processes opening an old database at once apply each migration exactly once; the second
waits, then finds nothing left to do. A migration and its number commit together.
"""

from __future__ import annotations

from batchery.store import StoreUnavailableError
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

__all__ = ["MIGRATIONS", "migrate"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id text PRIMARY KEY,
        tenant text NOT NULL DEFAULT 'default',
        fingerprint text UNIQUE,
        status text NOT NULL,
        epoch bigint NOT NULL DEFAULT 0,
        owner text,
        lease_since double precision,
        lease_expires_at double precision,
        cancel_requested_at double precision,
        last_seq bigint NOT NULL DEFAULT 0,
        created_at double precision NOT NULL,
        body bytea NOT NULL
    );
    CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC);
    CREATE INDEX jobs_created ON jobs (created_at DESC);
    CREATE TABLE chunks (
        id text PRIMARY KEY,
        job_id text NOT NULL REFERENCES jobs (id),
        idx integer NOT NULL,
        body bytea NOT NULL,
        UNIQUE (job_id, idx)
    );
    CREATE TABLE requests (
        job_id text NOT NULL REFERENCES jobs (id),
        idx integer NOT NULL,
        custom_id text NOT NULL,
        chunk_id text,
        body bytea NOT NULL,
        cache_key text,
        PRIMARY KEY (job_id, custom_id),
        UNIQUE (job_id, idx)
    );
    CREATE INDEX requests_chunk ON requests (chunk_id, idx);
    CREATE TABLE results (
        job_id text NOT NULL,
        custom_id text NOT NULL,
        idx integer NOT NULL,
        ok boolean NOT NULL,
        body bytea NOT NULL,
        mode text,
        cost_usd double precision,
        realtime_cost_usd double precision,
        cached boolean NOT NULL DEFAULT false,
        created_at double precision NOT NULL,
        PRIMARY KEY (job_id, custom_id),
        FOREIGN KEY (job_id, custom_id) REFERENCES requests (job_id, custom_id),
        UNIQUE (job_id, idx)
    );
    CREATE INDEX results_created ON results (created_at);
    CREATE TABLE quarantine (
        id bigserial PRIMARY KEY,
        job_id text NOT NULL REFERENCES jobs (id),
        chunk_id text NOT NULL,
        body bytea NOT NULL
    );
    CREATE INDEX quarantine_job ON quarantine (job_id, id);
    CREATE TABLE events (
        job_id text NOT NULL,
        seq bigint NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TABLE result_cache (
        key text PRIMARY KEY,
        body bytea NOT NULL,
        created_at double precision NOT NULL,
        endpoint text,
        base_url text,
        emulated boolean NOT NULL DEFAULT false
    );
    CREATE INDEX result_cache_created ON result_cache (created_at);
    CREATE TABLE turnarounds (
        id bigserial PRIMARY KEY,
        provider text NOT NULL,
        endpoint text NOT NULL,
        model text,
        requests integer NOT NULL,
        seconds double precision NOT NULL,
        finished_at double precision NOT NULL
    );
    CREATE INDEX turnarounds_endpoint ON turnarounds (endpoint, model, finished_at DESC);
    """,
)
"""Each entry one migration, numbered from 1; new ones are appended, old ones never edited."""

_LEDGER = """
CREATE TABLE IF NOT EXISTS batchery_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def migrate(conn: AsyncConnection[TupleRow]) -> int:
    """Bring the connection's schema up to the newest migration; returns how many ran.

    A schema newer than this code is refused rather than written with an older layout."""
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('batchery.migrations:' || current_schema()))"
        )
        await conn.execute(_LEDGER)
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM batchery_migrations")
        row = await cur.fetchone()
        applied = int(row[0]) if row is not None else 0
        if applied > len(MIGRATIONS):
            raise StoreUnavailableError(
                f"the job store's schema is at version {applied}, newer than the"
                f" {len(MIGRATIONS)} this batchery-postgres knows: upgrade it on this machine"
            )
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number > applied:
                await conn.execute(migration)
                await conn.execute(
                    "INSERT INTO batchery_migrations (version) VALUES (%s)", (number,)
                )
        return max(0, len(MIGRATIONS) - applied)
