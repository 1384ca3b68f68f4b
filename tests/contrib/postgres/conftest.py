"""Every store behaviour runs on both stores: `store` is SQLite in a temporary file, then
PostgreSQL in a fresh schema of the test's own, opened through `open_store` by URL.

`second` opens another store on the same database, as a second process would. PostgreSQL
tests run, not skip, when `CI` is set (PostgreSQL is part of CI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.store import JobStore, open_store


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
