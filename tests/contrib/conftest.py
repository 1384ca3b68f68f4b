"""The local PostgreSQL for contrib tests: each test gets a fresh schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

POSTGRES = "postgresql://{user}@127.0.0.1:5432/test"
POSTGRES_USERS = ("postgres", "root")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the local PostgreSQL whose search path is a fresh schema, dropped after.

    Runs whenever `CI` is set (PostgreSQL is part of CI); elsewhere skips when none answers.
    """
    problems: list[str] = []
    for user in POSTGRES_USERS:
        base = POSTGRES.format(user=user)
        try:
            admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            problems.append(f"{user}: {exc}".strip())
            continue
        schema = f"t_{uuid.uuid4().hex[:12]}"
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
