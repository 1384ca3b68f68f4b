"""Durable job state: the `JobStore` contract, its SQLite implementation, and `open_store`."""

from batchery.store._select import STORE_ENTRY_POINTS, StoreFactory, open_store
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
    RunSpend,
    SpendKey,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
)
from batchery.store.sqlite import DEFAULT_BUSY_TIMEOUT_S, SqliteJobStore

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "STORE_ENTRY_POINTS",
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
    "RunSpend",
    "SpendKey",
    "SqliteJobStore",
    "StoreBusyError",
    "StoreError",
    "StoreFactory",
    "StoreUnavailableError",
    "open_store",
]
