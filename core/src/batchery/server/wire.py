"""What crosses the server's boundary: snapshots, pages, tickets and WebSocket frames.

These are the only shapes the REST API, the WebSocket feed, the live page and `batchery.client`
exchange; the client imports this module alone, so it stays free of Litestar.

`RunState` is a run's progress as its events describe it. `RunState.apply` folds one event in,
so a client that saw every event up to `seq` holds exactly the state the server computes from its
durable log up to the same `seq`.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from batchery.events import (
    BatchSubmitted,
    FallbackStarted,
    ItemRetried,
    JobEvent,
    ModeChosen,
    NodeFinished,
    NodeStarted,
    OverSla,
    Progress,
    RunEvent,
    RunFinished,
    RunStarted,
)
from batchery.model import LlmResult

__all__ = [
    "CLOSE_BAD_REQUEST",
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_FOUND",
    "CLOSE_PROTOCOL",
    "CLOSE_SLOW",
    "CLOSE_TOO_MANY",
    "CLOSE_UNAUTHORIZED",
    "SUBPROTOCOL",
    "TICKET_PREFIX",
    "EventLog",
    "EventsFrame",
    "Frame",
    "Health",
    "NodeRunSnapshot",
    "ResultsPage",
    "ResyncFrame",
    "RunCounts",
    "RunList",
    "RunSnapshot",
    "RunState",
    "Ticket",
    "TicketRequest",
    "decode_frame",
]

SUBPROTOCOL: Final = "batchery.v1"
"""The WebSocket subprotocol the server speaks; it echoes it back on accept."""

TICKET_PREFIX: Final = "ticket."
"""A browser offers its ticket as a second subprotocol, `ticket.<ticket>`."""

CLOSE_SLOW: Final = 1013
CLOSE_PROTOCOL: Final = 1008
CLOSE_BAD_REQUEST: Final = 4400
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
CLOSE_TOO_MANY: Final = 4429


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """A run's progress as of event `seq`; `completed` counts successes, `failed` failures.

    Cost and savings (USD, against realtime prices) arrive with the final event; until then
    the snapshot's `counts` carry what has been spent so far. In a node run, `node` names the
    node and `jobs` lists the jobs it started, in order.
    """

    run_id: str
    seq: int = 0
    status: str = "pending"
    mode: str | None = None
    provider: str | None = None
    model: str | None = None
    phase: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    eta_s: float | None = None
    batches: int = 0
    retries: int = 0
    fallbacks: int = 0
    over_sla: int = 0
    duration_s: float | None = None
    node: str | None = None
    jobs: tuple[str, ...] = ()
    cached: int = 0
    cost_usd: float | None = None
    savings_usd: float | None = None

    @property
    def finished(self) -> bool:
        return self.phase == "done"

    def apply(self, event: RunEvent) -> RunState:
        """This state with `event` folded in; an event at or below `seq` changes nothing."""
        if event.seq <= self.seq:
            return self
        replace = msgspec.structs.replace
        state = replace(self, seq=event.seq)
        match event:
            case RunStarted():
                return replace(
                    state,
                    status="running",
                    provider=event.provider,
                    model=event.model,
                    mode=event.mode,
                    total=event.total,
                )
            case ModeChosen():
                return replace(state, mode=event.mode, cached=event.cached)
            case BatchSubmitted():
                return replace(state, batches=state.batches + 1)
            case Progress():
                return replace(
                    state,
                    completed=event.completed,
                    failed=event.failed,
                    total=event.total,
                    phase=event.phase,
                    eta_s=event.eta_s,
                )
            case ItemRetried():
                return replace(state, retries=state.retries + 1)
            case FallbackStarted():
                return replace(state, fallbacks=state.fallbacks + 1)
            case OverSla():
                return replace(state, over_sla=state.over_sla + 1)
            case RunFinished():
                return replace(
                    state,
                    status=event.status,
                    total=event.total,
                    completed=event.succeeded,
                    failed=event.failed,
                    phase="done",
                    eta_s=None,
                    duration_s=event.duration_s,
                    cached=event.cached,
                    cost_usd=event.cost_usd,
                    savings_usd=event.savings_usd,
                )
            case NodeStarted():
                return replace(state, status="running", node=event.node, total=event.items)
            case JobEvent():
                return _fold_job_event(state, event.event)
            case NodeFinished():
                return replace(
                    state,
                    status="completed",
                    node=event.node,
                    total=event.items,
                    completed=event.produced,
                    failed=len(event.failed_items),
                    phase="done",
                    eta_s=None,
                    retries=state.retries + event.retried,
                    cost_usd=event.cost_usd,
                    savings_usd=event.savings_usd,
                )


def _fold_job_event(state: RunState, event: RunEvent) -> RunState:
    """A node run's state with one of its jobs' events: the job is listed once it starts, and
    its batches, fallbacks and late batches count as the node's."""
    replace = msgspec.structs.replace
    match event:
        case RunStarted() if event.run_id not in state.jobs:
            return replace(state, jobs=(*state.jobs, event.run_id))
        case BatchSubmitted():
            return replace(state, batches=state.batches + 1)
        case FallbackStarted():
            return replace(state, fallbacks=state.fallbacks + 1)
        case OverSla():
            return replace(state, over_sla=state.over_sla + 1)
    return state


class RunCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Outcomes stored so far, straight from the job store's result table."""

    total: int
    succeeded: int
    failed: int
    cost_usd: float
    savings_usd: float
    cached: int
    unpriced: int


class RunSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The authoritative view of one run: the job row, its stored outcomes, and the state its
    event log describes up to `state.seq` (resume the feed with `after_seq=state.seq`)."""

    run_id: str
    status: str
    provider: str
    model: str | None
    mode: str
    created_at: float
    updated_at: float
    reason: str | None
    counts: RunCounts
    state: RunState


class NodeRunSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A graph node's run: the state its event log describes up to `state.seq` (its own events
    and its jobs', in one sequence), and a snapshot of each job it ran."""

    run_id: str
    node: str
    status: str
    state: RunState
    jobs: list[RunSnapshot]


class EventLog(msgspec.Struct, frozen=True, kw_only=True):
    """A page of a run's durable event log, oldest first; pass `next_after_seq` back as
    `after_seq` until it is None."""

    run_id: str
    events: list[RunEvent]
    next_after_seq: int | None


class RunList(msgspec.Struct, frozen=True, kw_only=True):
    runs: list[RunSnapshot]


class ResultsPage(msgspec.Struct, frozen=True, kw_only=True):
    """Results in input order; pass `next_offset` back as `offset` until it is None."""

    results: list[LlmResult]
    offset: int
    next_offset: int | None


class TicketRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: str


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """A single-use credential for one WebSocket to one run, for callers that cannot send
    headers (browsers): offer `ticket.<ticket>` as a subprotocol beside `batchery.v1`."""

    ticket: str
    run_id: str
    expires_in_s: float


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["ok", "degraded"]
    store: bool
    channels: bool


class EventsFrame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="events"):
    """Consecutive events of the run, oldest first, each `seq` one above the previous one."""

    events: list[RunEvent]


class ResyncFrame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="resync"):
    """The server is closing this socket: reconnect with `after_seq`, or fetch the snapshot."""

    after_seq: int
    reason: str


Frame = EventsFrame | ResyncFrame

_frames: msgspec.json.Decoder[Frame] = msgspec.json.Decoder(Frame)


def decode_frame(data: bytes | str) -> Frame:
    return _frames.decode(data)
