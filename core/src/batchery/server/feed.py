"""One live, gapless tail of each followed run per instance, shared by all its sockets.

A `RunFeed` holds the last `ring_size` events of a run in `seq` order with no holes: events
arrive through the channels backend (memory, or Redis from any instance), duplicates are
dropped, and a hole, or a run that stays silent for `poll_interval_s`, is filled from the job
store's durable log. That last rule also follows runs driven by another process that shares
the store.

Sockets wake together on a tick, at most once per `flush_interval_s`, and sockets at the same
position send the very same pre-built frame, so the cost of a new event is one frame per tick
shared by every socket, not one wake-up and one encoding per socket per event. With many
sockets the ticks space out so the feed sends at most `frames_per_s` frames a second: each
send is a system call, and their number, not the bytes, is what loads a server. A socket that
falls behind what the ring still holds is told to resync instead of growing a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Final, NamedTuple

import msgspec
import structlog
from litestar.channels import ChannelsPlugin, Subscriber

from batchery.store import JobStore

__all__ = [
    "EncodedFrame",
    "FeedRegistry",
    "FrameBudget",
    "RunFeed",
    "channel_of",
    "encode_frame",
    "frames_of",
    "peek",
]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.server")

_FINISHED: Final = frozenset({"run_finished", "node_finished"})
"""The events that end a run: `run_finished` a job's, `node_finished` a node's."""
_FIRST_PAGE: Final = 64


def channel_of(run_id: str) -> str:
    """The channel a run's events are published on; only the server ever names one."""
    return f"run:{run_id}"


class _Head(msgspec.Struct):
    seq: int
    type: str


_heads = msgspec.json.Decoder(_Head)


def peek(body: bytes) -> tuple[int, bool]:
    """`(seq, ends the run)` of an encoded event, without decoding the rest."""
    head = _heads.decode(body)
    return head.seq, head.type in _FINISHED


class EncodedFrame(NamedTuple):
    """An `events` frame ready to send: its first and last `seq`, and whether it ends the run."""

    first: int
    last: int
    text: str
    finished: bool


class FrameBudget(NamedTuple):
    """How much one frame may carry: it stops at whichever is reached first (and always holds
    at least one event, however large)."""

    max_events: int
    max_bytes: int

    def page_after(self, rows: Sequence[tuple[int, bytes]]) -> int:
        """How many log rows to read next so that a page fills about one frame, judged by the
        events of the page before (`rows`; a first page is small)."""
        if not rows:
            return min(self.max_events, _FIRST_PAGE)
        average = sum(len(body) + 1 for _, body in rows) / len(rows)
        return max(1, min(self.max_events, int(self.max_bytes / average)))

    def fit(self, bodies: Iterable[bytes]) -> int:
        """How many of `bodies`, from the first, go into one frame."""
        count = size = 0
        for body in bodies:
            size += len(body) + 1
            if count and (count >= self.max_events or size > self.max_bytes):
                break
            count += 1
        return count


def encode_frame(items: Sequence[tuple[int, bytes]]) -> EncodedFrame:
    text = (b'{"type":"events","events":[' + b",".join(b for _, b in items) + b"]}").decode()
    return EncodedFrame(items[0][0], items[-1][0], text, peek(items[-1][1])[1])


def frames_of(rows: Sequence[tuple[int, bytes]], budget: FrameBudget) -> Iterator[EncodedFrame]:
    """`rows` as consecutive frames within `budget`, each built only when it is asked for."""
    start = 0
    while start < len(rows):
        count = budget.fit(rows[i][1] for i in range(start, len(rows)))
        yield encode_frame(rows[start : start + count])
        start += count


class RunFeed:
    """The shared tail of one run; create through `FeedRegistry.follow`."""

    def __init__(
        self,
        run_id: str,
        store: JobStore,
        *,
        ring_size: int,
        poll_interval_s: float,
        flush_interval_s: float,
        frames_per_s: float,
    ) -> None:
        self.run_id = run_id
        self._store = store
        self._ring: deque[tuple[int, bytes]] = deque(maxlen=ring_size)
        self._poll_interval_s = poll_interval_s
        self._flush_interval_s = flush_interval_s
        self._frames_per_s = frames_per_s
        self._changed = asyncio.Event()
        self._tick: asyncio.TimerHandle | None = None
        self._last_tick = 0.0
        self._cached: tuple[tuple[int, int, FrameBudget], EncodedFrame] | None = None
        self._heard = False
        self.finished_at: int | None = None
        self.followers = 0

    @property
    def head(self) -> int:
        """The highest `seq` this feed holds (0 before any)."""
        return self._ring[-1][0] if self._ring else 0

    def frame(self, cursor: int, budget: FrameBudget) -> EncodedFrame | None:
        """The held events after `cursor` that fit `budget`, as one frame, oldest first; it
        starts past `cursor + 1` when the reader is behind what the ring holds."""
        if not self._ring or self.head <= cursor:
            return None
        key = (cursor, self.head, budget)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        start = max(0, cursor + 1 - self._ring[0][0])
        held = itertools.islice(self._ring, start, None)
        count = budget.fit(body for _, body in held)
        built = encode_frame(list(itertools.islice(self._ring, start, start + count)))
        self._cached = (key, built)
        return built

    async def changed(self) -> None:
        """Return at the next tick after new events (or the log read that found some)."""
        await self._changed.wait()

    def _append(self, seq: int, body: bytes, finished: bool) -> None:
        self._ring.append((seq, body))
        if finished:
            self.finished_at = seq

    def _notify(self) -> None:
        if self._tick is not None:
            return
        loop = asyncio.get_running_loop()
        interval = max(self._flush_interval_s, self.followers / self._frames_per_s)
        delay = self._last_tick + interval - loop.time()
        if delay <= 0:
            self._wake()
        else:
            self._tick = loop.call_later(delay, self._wake)

    def _wake(self) -> None:
        self._tick = None
        self._last_tick = asyncio.get_running_loop().time()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _catch_up(self) -> None:
        rows = await self._store.events(self.run_id, after_seq=self.head)
        for seq, body in rows:
            if seq > self.head:
                self._append(seq, body, peek(body)[1])
        if rows:
            self._notify()

    async def _on_event(self, body: bytes) -> None:
        self._heard = True
        try:
            seq, finished = peek(body)
            if seq == self.head + 1:
                self._append(seq, body, finished)
                self._notify()
            elif seq > self.head:
                await self._catch_up()
        except Exception:
            _log.exception("run feed could not take an event", run_id=self.run_id)

    async def run(self, subscriber: Subscriber | None) -> None:
        """Feed the ring from the channel, and from the log on holes and silence (only from
        the log when the channels backend could not be subscribed to)."""
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self._cancel_tick)
            if subscriber is not None:
                await stack.enter_async_context(
                    subscriber.run_in_background(self._on_event, join=False)
                )
            while True:
                if self.finished_at is None:
                    try:
                        await self._catch_up()
                    except Exception:
                        _log.exception("run feed could not read the log", run_id=self.run_id)
                self._heard = False
                await asyncio.sleep(self._poll_interval_s)
                while self._heard:
                    self._heard = False
                    await asyncio.sleep(self._poll_interval_s)

    def _cancel_tick(self) -> None:
        if self._tick is not None:
            self._tick.cancel()


class _Entry(NamedTuple):
    feed: RunFeed
    task: asyncio.Task[None]
    subscriber: Subscriber | None


class FeedRegistry:
    """The feeds of this instance: one per run with at least one socket following it."""

    def __init__(
        self,
        store: JobStore,
        channels: ChannelsPlugin,
        *,
        ring_size: int,
        poll_interval_s: float,
        flush_interval_s: float,
        frames_per_s: float,
    ) -> None:
        self._store = store
        self._channels = channels
        self._ring_size = ring_size
        self._poll_interval_s = poll_interval_s
        self._flush_interval_s = flush_interval_s
        self._frames_per_s = frames_per_s
        self._feeds: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()

    @property
    def runs_followed(self) -> int:
        return len(self._feeds)

    @contextlib.asynccontextmanager
    async def follow(self, run_id: str) -> AsyncIterator[RunFeed]:
        """The run's feed, started on first use and stopped when its last follower leaves."""
        async with self._lock:
            entry = self._feeds.get(run_id)
            if entry is None:
                feed = RunFeed(
                    run_id,
                    self._store,
                    ring_size=self._ring_size,
                    poll_interval_s=self._poll_interval_s,
                    flush_interval_s=self._flush_interval_s,
                    frames_per_s=self._frames_per_s,
                )
                subscriber = await self._subscribe(run_id)
                task = asyncio.create_task(feed.run(subscriber))
                entry = self._feeds[run_id] = _Entry(feed, task, subscriber)
            feed = entry.feed
            feed.followers += 1
        try:
            yield feed
        finally:
            async with self._lock:
                feed.followers -= 1
                if feed.followers == 0:
                    del self._feeds[run_id]
                    await self._stop(entry)

    async def _subscribe(self, run_id: str) -> Subscriber | None:
        try:
            return await self._channels.subscribe(channel_of(run_id))
        except Exception as exc:
            _log.warning(
                "channels unavailable; following the run through its log",
                run_id=run_id,
                error=type(exc).__name__,
            )
            return None

    async def _stop(self, entry: _Entry) -> None:
        entry.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await entry.task
        if entry.subscriber is not None:
            with contextlib.suppress(Exception):
                await self._channels.unsubscribe(entry.subscriber, channel_of(entry.feed.run_id))

    async def close(self) -> None:
        async with self._lock:
            for entry in self._feeds.values():
                await self._stop(entry)
            self._feeds.clear()
