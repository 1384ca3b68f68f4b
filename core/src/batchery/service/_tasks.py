"""A task group whose failure reads as the error that caused it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["task_group"]


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """`asyncio.TaskGroup`, re-raising the first failure itself rather than a group of them.

    Callers handle `ProviderError` or `LeaseLostError`, not `ExceptionGroup`; the group stays
    attached as the cause, so no failure is hidden from a traceback.
    """
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except ExceptionGroup as failures:
        first = failures.exceptions[0]
        while isinstance(first, ExceptionGroup):
            first = first.exceptions[0]
        raise first from failures
