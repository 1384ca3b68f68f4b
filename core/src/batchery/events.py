"""Progress events: one versioned, tagged schema for everything a run reports.

Every event carries the run it belongs to, a per-run `seq` that only grows (assigned by the job
store's event log, so it survives restarts) and a timestamp. New fields get defaults so older
readers keep working.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "BatchSubmitted",
    "Event",
    "FallbackStarted",
    "ItemRetried",
    "JobEvent",
    "JobMode",
    "JobRunEvent",
    "ModeChosen",
    "ModeEstimate",
    "NodeFinished",
    "NodeStarted",
    "OverSla",
    "Phase",
    "Progress",
    "RunEvent",
    "RunFinished",
    "RunStarted",
    "decode_event",
]

SCHEMA_VERSION = 1

Phase = Literal[
    "planning",
    "submitting",
    "validating",
    "in_progress",
    "finalizing",
    "collecting",
    "realtime",
    "done",
]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    run_id: str
    seq: int
    ts: float
    v: int = SCHEMA_VERSION


class RunStarted(Event, frozen=True, kw_only=True, tag="run_started"):
    provider: str
    model: str | None
    mode: str
    total: int
    resumed: bool = False


class ModeEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """One option the policy weighed: what it would cost and when it would finish."""

    mode: str
    cost_usd: float | None
    finish_s: float
    meets_deadline: bool


class ModeChosen(Event, frozen=True, kw_only=True, tag="mode_chosen"):
    mode: str
    reason: str
    estimates: list[ModeEstimate] = msgspec.field(default_factory=list)
    cached: int = 0


class BatchSubmitted(Event, frozen=True, kw_only=True, tag="batch_submitted"):
    chunk: int
    batch_id: str
    requests: int


class Progress(Event, frozen=True, kw_only=True, tag="progress"):
    completed: int
    failed: int
    total: int
    phase: Phase
    eta_s: float | None = None


class ItemRetried(Event, frozen=True, kw_only=True, tag="item_retried"):
    custom_id: str
    attempt: int
    reason: str


class FallbackStarted(Event, frozen=True, kw_only=True, tag="fallback_started"):
    """A batch will not deliver in time (failed, expired, too slow): the rest goes realtime."""

    reason: str
    count: int


class OverSla(Event, frozen=True, kw_only=True, tag="over_sla"):
    """A batch sits in one state longer than expected; it is watched, never failed locally."""

    chunk: int
    batch_id: str
    phase: str
    age_s: float
    expected_s: float | None = None


class NodeStarted(Event, frozen=True, kw_only=True, tag="node_started"):
    """A graph node began; the jobs it runs have ids that start with this event's `run_id`."""

    node: str
    items: int


class JobMode(msgspec.Struct, frozen=True, kw_only=True):
    """The mode one of a node's jobs ran in and why; `results` counts its answers by the mode
    that produced them, so a batch that fell back shows both, with `fallback` saying why."""

    job_id: str
    mode: str
    reason: str
    results: dict[str, int] = msgspec.field(default_factory=dict)
    fallback: str | None = None


class NodeFinished(Event, frozen=True, kw_only=True, tag="node_finished"):
    """A graph node ended: what it produced, what failed (by item id), what it cost.

    `modes` has one entry per job, in order. With a deadline, `deadline_at` is when the node
    had to be done (Unix seconds) and `overrun_s` how late it finished, None when on time.
    """

    node: str
    items: int
    produced: int
    failed_items: list[str] = msgspec.field(default_factory=list)
    retried: int = 0
    cost_usd: float = 0.0
    realtime_cost_usd: float = 0.0
    savings_usd: float = 0.0
    modes: list[JobMode] = msgspec.field(default_factory=list)
    deadline_at: float | None = None
    overrun_s: float | None = None


class RunFinished(Event, frozen=True, kw_only=True, tag="run_finished"):
    """The end of a run. Savings are against realtime prices for the same work."""

    status: str
    total: int
    succeeded: int
    failed: int
    duration_s: float
    cost_usd: float = 0.0
    realtime_cost_usd: float = 0.0
    savings_usd: float = 0.0
    cached: int = 0


JobRunEvent = (
    RunStarted
    | ModeChosen
    | BatchSubmitted
    | Progress
    | ItemRetried
    | FallbackStarted
    | OverSla
    | RunFinished
)
"""What a job reports under its own run id."""


class JobEvent(Event, frozen=True, kw_only=True, tag="job_event"):
    """One event of a job a node runs, repeated in the node's own run.

    Following a node run is then one ordered sequence (the node's `seq`) that holds the node's
    events and its jobs'. `event` is the job's event as it is in the job's own run: its
    `run_id` names the job and its `seq` counts in the job's run.
    """

    event: JobRunEvent


RunEvent = JobRunEvent | NodeStarted | NodeFinished | JobEvent

_decoder: msgspec.json.Decoder[RunEvent] = msgspec.json.Decoder(RunEvent)


def decode_event(body: bytes) -> RunEvent:
    return _decoder.decode(body)
