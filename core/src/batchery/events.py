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
    """What every event carries."""

    run_id: str
    """The run: a job's id, or a graph node's run id."""
    seq: int
    """1, 2, 3, ... per run, assigned by the job store's log; never reused, never skipped."""
    ts: float
    """When the event was made, in Unix seconds."""
    v: int = SCHEMA_VERSION
    """The schema version; fields added later get defaults, so old readers keep working."""


class RunStarted(Event, frozen=True, kw_only=True, tag="run_started"):
    """A job began, or a restart picked it up again."""

    provider: str
    """The provider's name."""
    model: str | None
    """None: the provider's default model."""
    mode: str
    """As in `mode_chosen`."""
    total: int
    """Requests in the job."""
    resumed: bool = False
    """True when a restart picked the job up again."""


class ModeEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """One option the policy weighed: what it would cost and when it would finish."""

    mode: str
    cost_usd: float | None
    """None for an unpriced model."""
    finish_s: float
    """Seconds from now until the work would be done."""
    meets_deadline: bool


class ModeChosen(Event, frozen=True, kw_only=True, tag="mode_chosen"):
    """The mode a job runs in, why, and every option the policy weighed."""

    mode: str
    """`batch`, `realtime` or `hybrid`: the mode the job runs in."""
    reason: str
    """Why, in words."""
    estimates: list[ModeEstimate] = msgspec.field(default_factory=list)
    """Each option weighed."""
    cached: int = 0
    """Requests answered from the result cache."""


class BatchSubmitted(Event, frozen=True, kw_only=True, tag="batch_submitted"):
    """One chunk of a job was handed to the provider as a batch."""

    chunk: int
    """Which chunk of the job, from 0."""
    batch_id: str
    """The provider's batch id."""
    requests: int
    """Requests in that batch."""


class Progress(Event, frozen=True, kw_only=True, tag="progress"):
    """Where a job stands: its counts and the slowest part still running."""

    completed: int
    """Requests that succeeded so far; never goes down while one process drives the job."""
    failed: int
    """Requests that failed so far."""
    total: int
    """Requests in the job."""
    phase: Phase
    """The slowest part still running."""
    eta_s: float | None = None
    """Seconds to go; None until there is something to estimate from."""


class ItemRetried(Event, frozen=True, kw_only=True, tag="item_retried"):
    """A request (or a node's item) is sent again."""

    custom_id: str
    """The request (in a node's run: the item) sent again."""
    attempt: int
    """The attempt about to be made, from 2."""
    reason: str


class FallbackStarted(Event, frozen=True, kw_only=True, tag="fallback_started"):
    """A batch will not deliver in time (failed, expired, too slow): the rest goes realtime."""

    reason: str
    count: int
    """Requests moved to realtime."""


class OverSla(Event, frozen=True, kw_only=True, tag="over_sla"):
    """A batch sits in one state longer than expected; it is watched, never failed locally."""

    chunk: int
    batch_id: str
    phase: str
    """The provider's status the batch has been in."""
    age_s: float
    """How long it has been in it."""
    expected_s: float | None = None
    """The turnaround it was expected to take."""


class NodeStarted(Event, frozen=True, kw_only=True, tag="node_started"):
    """A graph node began; the jobs it runs have ids that start with this event's `run_id`."""

    node: str
    """The node's name (`infer-atoms`, `verify`, ...)."""
    items: int
    """Items (or atoms) it was given."""


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
    """What the node wrote (atoms, scored atoms)."""
    failed_items: list[str] = msgspec.field(default_factory=list)
    """Ids of the items that produced nothing."""
    retried: int = 0
    """Items asked again."""
    cost_usd: float = 0.0
    realtime_cost_usd: float = 0.0
    savings_usd: float = 0.0
    modes: list[JobMode] = msgspec.field(default_factory=list)
    deadline_at: float | None = None
    overrun_s: float | None = None


class RunFinished(Event, frozen=True, kw_only=True, tag="run_finished"):
    """The end of a run. Savings are against realtime prices for the same work."""

    status: str
    """`completed` or `cancelled`."""
    total: int
    succeeded: int
    """Every request ends as exactly one of `succeeded` and `failed`."""
    failed: int
    duration_s: float
    """From the job's creation to its end."""
    cost_usd: float = 0.0
    realtime_cost_usd: float = 0.0
    """What the same work would have cost as realtime calls."""
    savings_usd: float = 0.0
    cached: int = 0
    """Requests answered from the cache."""


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
