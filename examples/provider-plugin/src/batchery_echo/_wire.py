"""The Echo API's JSON shapes, shared by the client and the emulator.

Echo answers a prompt with text. A batch is created with its requests inline and a caller's
`tag`; its results are JSON lines, one per request, keyed by the request's `id`.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "BatchEntry",
    "BatchList",
    "BatchView",
    "Counts",
    "CreateBatch",
    "EchoError",
    "EchoReply",
    "EchoRequest",
    "ErrorBody",
    "ResultLine",
]


class EchoRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    model: str
    prompt: str
    max_tokens: int | None = None


class EchoReply(msgspec.Struct, frozen=True):
    model: str
    text: str
    input_tokens: int = 0
    output_tokens: int = 0


class EchoError(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    message: str
    status: int | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    error: EchoError


class BatchEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    model: str
    prompt: str
    max_tokens: int | None = None


class CreateBatch(msgspec.Struct, frozen=True):
    tag: str
    requests: list[BatchEntry]


class Counts(msgspec.Struct):
    total: int = 0
    succeeded: int = 0
    errored: int = 0


class BatchView(msgspec.Struct):
    """Statuses: queued, running, cancelling, done, cancelled, expired, failed."""

    id: str
    status: str
    tag: str
    created_at: float
    expires_at: float
    counts: Counts
    error: str | None = None


class BatchList(msgspec.Struct):
    data: list[BatchView]


class ResultLine(msgspec.Struct, frozen=True, omit_defaults=True):
    """Exactly one of `reply` and `error` is set."""

    id: str
    reply: EchoReply | None = None
    error: EchoError | None = None
