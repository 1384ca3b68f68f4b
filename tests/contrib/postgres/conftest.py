"""Every store behaviour runs on both stores: `store` is SQLite in a temporary file, then
PostgreSQL in a fresh schema of the test's own, opened through `open_store` by URL.

`second` opens another store on the same database, as a second process would. PostgreSQL
tests run, not skip, when `CI` is set (PostgreSQL is part of CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from batchery.store import JobStore, open_store

POSTGRES = "postgresql://{user}@127.0.0.1:5432/test"
POSTGRES_USERS = ("postgres", "root")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the local PostgreSQL whose search path is a fresh schema, dropped after."""
    problems: list[str] = []
    for user in POSTGRES_USERS:
        base = POSTGRES.format(user=user)
        try:
            admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            problems.append(f"{user}: {exc}".strip())
            continue
        schema = f"store_{uuid.uuid4().hex[:12]}"
        with admin:
            admin.execute(f"CREATE SCHEMA {schema}")
            try:
                yield f"{base}?options=-csearch_path%3D{schema}"
            finally:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
        return
    reason = "no PostgreSQL at 127.0.0.1:5432 (" + "; ".join(problems) + ")"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[JobStore]:
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def second(store_url: str, store: JobStore) -> AsyncIterator[JobStore]:
    """Another store on the same database, as another process has it."""
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()
