"""Durable job state: the `JobStore` contract and its SQLite implementation."""

from batchery.store.base import (
    ChunkRecord,
    CostRow,
    Holder,
    JobCounts,
    JobHeldError,
    JobStore,
    Lease,
    LeaseLostError,
    PlannedRequest,
    ResultCache,
    RunHistory,
    StoreBusyError,
    StoreError,
)
from batchery.store.sqlite import DEFAULT_BUSY_TIMEOUT_S, SqliteJobStore

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "ChunkRecord",
    "CostRow",
    "Holder",
    "JobCounts",
    "JobHeldError",
    "JobStore",
    "Lease",
    "LeaseLostError",
    "PlannedRequest",
    "ResultCache",
    "RunHistory",
    "SqliteJobStore",
    "StoreBusyError",
    "StoreError",
    "open_store",
]


def open_store(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> JobStore:
    """The store for a URL: a path or `sqlite:///path`; other schemes come from contrib packages.

    `busy_timeout_s` is how long a write waits for another process's transaction.
    """
    return SqliteJobStore(url, busy_timeout_s=busy_timeout_s)
