"""Voyage batch objects to neutral `BatchState`: statuses, timestamps and batch errors.

Voyage's reference lists `validating`, `failed`, `in_progress`, `finalizing`, `completed`,
`cancelling` and `cancelled`; older guide examples spell `canceling`/`canceled` and hint at
`partially_completed` for a batch whose 12 h window ran out (provider-wire-formats.md §4.4,
§4.6). All are read, the unfinished-window one as `expired`. Voyage documents no status for a
batch whose window ran out: it prepares the finished results and ends `completed`, the rest in
the error file as `batch_expired` (https://docs.voyageai.com/docs/batch-inference). Such a
batch began finalizing at its `expected_completion_at`, not before, so a `completed` batch
whose `finalizing_at` is not earlier than that is read as `expired`. Timestamps are RFC 3339
strings, sometimes without a zone (read as UTC); numbers are taken as Unix seconds
(`batchery_openai_batch.parse_time`).
"""

from __future__ import annotations

from batchery.model import BatchState, BatchStatus
from batchery.secrets import Secret
from batchery_openai_batch import BatchView, parse_time, read_status
from batchery_openai_batch import batch_state as shared_state

from ._errors import redact
from ._translate import PROVIDER

__all__ = ["batch_state", "parse_time"]

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


def _ran_out(view: BatchView, status: BatchStatus) -> BatchStatus:
    """`expired` for a `completed` batch that was finalized only when its window ended."""
    if status is not BatchStatus.COMPLETED:
        return status
    finalizing, deadline = parse_time(view.finalizing_at), parse_time(view.expected_completion_at)
    if finalizing is not None and deadline is not None and finalizing >= deadline:
        return BatchStatus.EXPIRED
    return status


def batch_state(view: BatchView, secret: Secret | None) -> BatchState:
    status = _ran_out(view, read_status(view.status, _STATUSES, provider=PROVIDER))
    return shared_state(view, status, redact=lambda text: redact(text, secret))
