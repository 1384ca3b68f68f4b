"""Voyage batch objects to neutral `BatchState`: statuses, timestamps and batch errors.

Voyage's reference lists `validating`, `failed`, `in_progress`, `finalizing`, `completed`,
`cancelling` and `cancelled`; older guide examples spell `canceling`/`canceled` and hint at
`partially_completed` for a batch whose 12 h window ran out (provider-wire-formats.md §4.4,
§4.6). All are read, the unfinished-window one as `expired`. Voyage documents no status for a
batch whose window ran out: it prepares the finished results and ends `completed`, the rest in
the error file as `batch_expired` (https://docs.voyageai.com/docs/batch-inference). Such a
batch began finalizing at its `expected_completion_at`, not before, so a `completed` batch
whose `finalizing_at` is not earlier than that is read as `expired`. Timestamps are RFC 3339
strings, sometimes without a zone (read as UTC); numbers are taken as Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from batchery.model import BatchState, BatchStatus
from batchery.secrets import Secret

from ._errors import redact
from ._translate import TAG_KEY
from ._wire import BatchView

__all__ = ["batch_state", "parse_time"]

_log = structlog.get_logger(__name__)

_STATUSES: dict[str, BatchStatus] = {
    "validating": BatchStatus.VALIDATING,
    "in_progress": BatchStatus.IN_PROGRESS,
    "finalizing": BatchStatus.FINALIZING,
    "partial_finalizing": BatchStatus.FINALIZING,
    "completed": BatchStatus.COMPLETED,
    "partially_completed": BatchStatus.EXPIRED,
    "expired": BatchStatus.EXPIRED,
    "cancelling": BatchStatus.CANCELLING,
    "canceling": BatchStatus.CANCELLING,
    "cancelled": BatchStatus.CANCELLED,
    "canceled": BatchStatus.CANCELLED,
    "failed": BatchStatus.FAILED,
}


def parse_time(value: str | float | None) -> float | None:
    """Unix seconds from an RFC 3339 string (zone optional, UTC assumed) or a number."""
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _status(raw: str) -> BatchStatus:
    status = _STATUSES.get(raw.strip().lower())
    if status is None:
        _log.warning("voyage.batch.unknown_status", status=raw[:40])
        return BatchStatus.IN_PROGRESS
    return status


def _ran_out(view: BatchView, status: BatchStatus) -> BatchStatus:
    """`expired` for a `completed` batch that was finalized only when its window ended."""
    if status is not BatchStatus.COMPLETED:
        return status
    finalizing, deadline = parse_time(view.finalizing_at), parse_time(view.expected_completion_at)
    if finalizing is not None and deadline is not None and finalizing >= deadline:
        return BatchStatus.EXPIRED
    return status


def batch_state(view: BatchView, secret: Secret | None) -> BatchState:
    counts = view.request_counts
    tag = (view.metadata or {}).get(TAG_KEY)
    error = None
    if view.errors is not None and view.errors.data:
        parts = [
            f"{entry.code or 'error'}"
            + (f" (line {entry.line})" if entry.line is not None else "")
            + (f": {entry.message}" if entry.message else "")
            for entry in view.errors.data[:5]
        ]
        error = redact("; ".join(parts), secret)[:500]
    return BatchState(
        batch_id=view.id,
        status=_ran_out(view, _status(view.status)),
        created_at=parse_time(view.created_at) or 0.0,
        total=counts.total if counts is not None else 0,
        completed=counts.completed if counts is not None else 0,
        failed=counts.failed if counts is not None else 0,
        tag=tag if isinstance(tag, str) else None,
        error=error,
    )
