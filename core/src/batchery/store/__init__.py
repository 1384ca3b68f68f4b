"""Durable job state: the `JobStore` contract and its SQLite implementation."""

from batchery.store.base import (
    ChunkRecord,
    CostRow,
    JobCounts,
    JobStore,
    Lease,
    LeaseLostError,
    PlannedRequest,
    ResultCache,
    RunHistory,
    StoreError,
)
from batchery.store.sqlite import SqliteJobStore

__all__ = [
    "ChunkRecord",
    "CostRow",
    "JobCounts",
    "JobStore",
    "Lease",
    "LeaseLostError",
    "PlannedRequest",
    "ResultCache",
    "RunHistory",
    "SqliteJobStore",
    "StoreError",
    "open_store",
]


def open_store(url: str) -> JobStore:
    """The store for a URL: a path or `sqlite:///path`; other schemes come from contrib packages."""
    return SqliteJobStore(url)
