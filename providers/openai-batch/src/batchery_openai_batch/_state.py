"""Batch objects to neutral `BatchState`: statuses, timestamps, counts, the tag and errors.

The dialects spell statuses differently (`cancelled` and `canceled`, `COMPLETED`), so each
gives its table and the reading here is the same: case and spaces do not matter, and a status
no table knows is logged and read as `in_progress`, so a new one never ends a batch early.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import structlog
from batchery.model import BatchState, BatchStatus

from batchery_openai_batch._wire import BatchView, Stamp

__all__ = ["OPENAI_STATUSES", "TAG_KEY", "batch_state", "parse_time", "read_status"]

TAG_KEY = "batchery_tag"
"""The metadata key that carries a batch's tag, so a lost create is found again by it."""

OPENAI_STATUSES: Mapping[str, BatchStatus] = {status.value: status for status in BatchStatus}
"""OpenAI's statuses, which Batchery's neutral ones spell the same."""

_log = structlog.get_logger(__name__)


def parse_time(value: Stamp) -> float | None:
    """Unix seconds from a number or an RFC 3339 string (zone optional, UTC assumed)."""
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_status(raw: str, table: Mapping[str, BatchStatus], *, provider: str) -> BatchStatus:
    """The neutral status `table` gives `raw`; `in_progress` (and a warning) when it has none."""
    status = table.get(raw.strip().lower())
    if status is None:
        _log.warning(f"{provider}.batch.unknown_status", status=raw[:40])
        return BatchStatus.IN_PROGRESS
    return status


def _errors(view: BatchView) -> str | None:
    if view.errors is not None and view.errors.data:
        return "; ".join(
            f"{entry.code or 'error'}"
            + (f" (line {entry.line})" if entry.line is not None else "")
            + (f": {entry.message}" if entry.message else "")
            for entry in view.errors.data[:5]
        )
    return view.error or None


def batch_state(
    view: BatchView, status: BatchStatus, *, redact: Callable[[str], str]
) -> BatchState:
    """The neutral state of `view` read as `status`; `redact` cleans the error text of keys."""
    counts = view.request_counts
    tag = (view.metadata or {}).get(TAG_KEY)
    error = _errors(view)
    return BatchState(
        batch_id=view.id,
        status=status,
        created_at=parse_time(view.created_at) or 0.0,
        total=counts.total if counts is not None else 0,
        completed=counts.completed if counts is not None else 0,
        failed=counts.failed if counts is not None else 0,
        tag=tag if isinstance(tag, str) else None,
        error=None if error is None else redact(error)[:500],
    )
