"""What only PostgreSQL has: selection by URL, migrations applied once however many processes
open at once, a tenant on every job, a busy lock reported as busy, and a URL's password kept
out of every message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import psycopg
import pytest
from batchery.model import JobStatus
from batchery.store import (
    LeaseLostError,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
    open_store,
)
from batchery_postgres import DEFAULT_TENANT, MIGRATIONS, PostgresJobStore

from .records import chunk, job, ok, planned


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgresql_url_opens_the_postgresql_store(scheme: str) -> None:
    store = open_store(f"{scheme}://batchery:hunter2-secret@db.internal:5432/jobs")

    assert isinstance(store, PostgresJobStore)
    assert store.url == f"{scheme}://batchery:**********@db.internal:5432/jobs"


def test_an_unknown_scheme_names_what_to_install() -> None:
    with pytest.raises(StoreError, match=r"no installed package provides a job store for mysql"):
        open_store("mysql://db/jobs")


async def test_a_store_that_cannot_be_reached_says_so_without_the_password() -> None:
    store = open_store("postgresql://batchery:hunter2-secret@127.0.0.1:9/jobs", busy_timeout_s=1)

    with pytest.raises(StoreUnavailableError) as failed:
        await store.open()

    assert "batchery:**********@127.0.0.1:9/jobs" in str(failed.value)
    assert "hunter2" not in str(failed.value)


def test_a_command_on_an_unreachable_store_exits_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    url = "postgresql://batchery:hunter2-secret@127.0.0.1:9/jobs"

    done = subprocess.run(
        [sys.executable, "-m", "batchery", "jobs", "list", "--store", url],
        env=env | {"BATCHERY_STORE_BUSY_TIMEOUT_S": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 5
    assert done.stderr.startswith("error: cannot open the job store postgresql://batchery:***")
    assert done.stderr.count("\n") == 1
    assert "hunter2" not in done.stderr + done.stdout


async def test_a_schema_newer_than_this_code_is_refused(postgres_url: str) -> None:
    first = open_store(postgres_url)
    await first.open()
    await first.close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "INSERT INTO batchery_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,)
        )

    with pytest.raises(StoreUnavailableError, match=r"newer than the \d+ this batchery-postgres"):
        await open_store(postgres_url).open()


async def test_processes_opening_a_new_database_at_once_migrate_it_once(
    postgres_url: str,
) -> None:
    stores = [open_store(postgres_url) for _ in range(4)]

    await asyncio.gather(*(s.open() for s in stores))

    with psycopg.connect(postgres_url) as conn:
        applied = conn.execute("SELECT version FROM batchery_migrations ORDER BY 1").fetchall()
    assert applied == [(n,) for n in range(1, len(MIGRATIONS) + 1)]
    await stores[0].create_job(job(), [], [])
    assert [[j.id for j in await s.list_jobs()] for s in stores] == [["run_1"]] * 4
    await asyncio.gather(*(s.close() for s in stores))


async def test_every_job_has_a_tenant_and_lists_by_it(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    await store.open()
    try:
        mine = job("run_mine")
        mine.tenant = "acme"
        await store.create_job(mine, [], [])
        await store.create_job(job("run_default"), [], [])

        assert [j.id for j in await store.list_jobs(tenant="acme")] == ["run_mine"]
        assert [j.id for j in await store.list_jobs(tenant=DEFAULT_TENANT)] == ["run_default"]
        with psycopg.connect(postgres_url) as conn:
            rows = conn.execute("SELECT id, tenant FROM jobs ORDER BY id").fetchall()
        assert rows == [("run_default", "default"), ("run_mine", "acme")]
    finally:
        await store.close()


async def test_a_write_waiting_past_the_busy_timeout_reports_the_store_busy(
    postgres_url: str,
) -> None:
    store = PostgresJobStore(postgres_url, busy_timeout_s=0.3)
    await store.open()
    try:
        await store.create_job(job(), planned(), [chunk()])
        lease = await store.claim("run_1", "me", lease_s=30)
        with psycopg.connect(postgres_url) as other, other.transaction():
            other.execute("SELECT 1 FROM jobs WHERE id = 'run_1' FOR UPDATE")

            with pytest.raises(StoreBusyError, match=r"stayed busy for 0\.3s"):
                await store.set_job_status(lease, JobStatus.RUNNING)
    finally:
        await store.close()


async def test_a_write_racing_a_takeover_waits_for_it_and_is_refused(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    await store.open()
    try:
        await store.create_job(job(), planned(), [chunk()])
        stale = await store.claim("run_1", "a", lease_s=30)
        with psycopg.connect(postgres_url) as other:
            other.execute(
                "UPDATE jobs SET epoch = epoch + 1, owner = 'b' WHERE id = 'run_1'"
            )  # the takeover, not yet committed
            write = asyncio.ensure_future(store.save_results(stale, [ok("r0")]))
            await asyncio.sleep(0.2)
            assert not write.done()
            other.commit()

            with pytest.raises(LeaseLostError):
                await write
        assert (await store.counts("run_1")).finished == 0
    finally:
        await store.close()
