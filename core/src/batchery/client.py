"""A client for programs: REST snapshots and typed run events that survive disconnects.

    async with ProgressClient("http://127.0.0.1:8000", token) as client:
        async for event in client.follow(run_id):
            print(event.seq, type(event).__name__)
        assert client.last_state(run_id) == (await client.snapshot(run_id)).state

`follow` yields every event after its starting point exactly once, in `seq` order, and ends
with `RunFinished` (a job's run) or `NodeFinished` (a graph node's run, whose jobs' events come
as `JobEvent`s in the same sequence). When the socket drops, the server says the client is
too slow, or a `seq` is skipped, it reconnects with `after_seq` set to the last event it yielded
and carries on; refusals (bad token, unknown run) are raised at once, since retrying cannot
fix them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import aiohttp
import msgspec

from batchery.events import NodeFinished, RunEvent, RunFinished
from batchery.model import LlmResult
from batchery.secrets import Secret
from batchery.server.wire import (
    SUBPROTOCOL,
    EventsFrame,
    NodeRunSnapshot,
    ResultsPage,
    RunList,
    RunSnapshot,
    RunState,
    decode_frame,
)

__all__ = ["ClientError", "FeedRefusedError", "ProgressClient"]

_T = TypeVar("_T")

_PERMANENT: Final = frozenset({400, 401, 403, 404})


class ClientError(Exception):
    """The server answered with an error; `status` is its HTTP status (0: unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})" if status else message)
        self.status = status


class FeedRefusedError(ClientError):
    """The server refused the run's WebSocket for good (credentials, tenant or run id)."""


class ProgressClient:
    """Talks to one Batchery server as one tenant (the token's)."""

    def __init__(
        self,
        base_url: str,
        token: str | Secret,
        *,
        session: aiohttp.ClientSession | None = None,
        retry_delay_s: float = 0.2,
        max_retry_delay_s: float = 5.0,
        max_retries: int = 20,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token if isinstance(token, Secret) else Secret(token)
        self._session = session
        self._owns_session = session is None
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._max_retries = max_retries
        self._states: dict[str, RunState] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"ProgressClient({self._base!r})"

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    async def _call(self, method: str, path: str, type_: type[_T], **params: Any) -> _T:
        try:
            async with self._http.request(
                method, self._base + path, headers=self._headers, params=params or None
            ) as response:
                body = await response.read()
                if response.status >= 400:
                    raise ClientError(response.status, f"{method} {path} failed")
                return msgspec.json.decode(body, type=type_)
        except aiohttp.ClientError as exc:
            raise ClientError(0, f"cannot reach {self._base}: {type(exc).__name__}") from None

    async def runs(self, *, limit: int = 50) -> list[RunSnapshot]:
        return (await self._call("GET", "/api/runs", RunList, limit=limit)).runs

    async def snapshot(self, run_id: str) -> RunSnapshot:
        return await self._call("GET", f"/api/runs/{run_id}", RunSnapshot)

    async def node_run(self, run_id: str) -> NodeRunSnapshot:
        """A graph node's run, with a snapshot of each job it started."""
        return await self._call("GET", f"/api/node-runs/{run_id}", NodeRunSnapshot)

    async def cancel(self, run_id: str) -> RunSnapshot:
        return await self._call("POST", f"/api/runs/{run_id}/cancel", RunSnapshot)

    async def results(self, run_id: str, *, page_size: int = 500) -> AsyncIterator[LlmResult]:
        """Every stored result of the run, in input order, a page at a time."""
        offset: int | None = 0
        while offset is not None:
            page = await self._call(
                "GET", f"/api/runs/{run_id}/results", ResultsPage, offset=offset, limit=page_size
            )
            for result in page.results:
                yield result
            offset = page.next_offset

    def last_state(self, run_id: str) -> RunState | None:
        """The state `follow` folded from the events it yielded for the run so far."""
        return self._states.get(run_id)

    async def follow(
        self, run_id: str, *, after_seq: int | None = None, state: RunState | None = None
    ) -> AsyncGenerator[RunEvent]:
        """The run's events after `state` (carrying it on), or after `after_seq`, or, given
        neither, after the current snapshot; `last_state` then folds them in."""
        if state is None:
            if after_seq is None:
                state = (await self.snapshot(run_id)).state
            else:
                state = RunState(run_id=run_id, seq=after_seq)
        self._states[run_id] = state
        if state.finished:
            return
        failures = 0
        while True:
            try:
                async with contextlib.aclosing(self._one_socket(run_id, state.seq)) as events:
                    async for event in events:
                        state = self._states[run_id] = state.apply(event)
                        failures = 0
                        yield event
                        if isinstance(event, RunFinished | NodeFinished):
                            return
            except FeedRefusedError:
                raise
            except (TimeoutError, aiohttp.ClientError, _Reconnect):
                pass
            failures += 1
            if failures > self._max_retries:
                raise ClientError(0, f"gave up following {run_id} after {failures} attempts")
            delay = min(self._max_retry_delay_s, self._retry_delay_s * 2 ** (failures - 1))
            await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def _one_socket(self, run_id: str, after_seq: int) -> AsyncGenerator[RunEvent]:
        """One connection's events, checked to follow on from `after_seq` without a hole."""
        url = f"{self._base}/api/runs/{run_id}/events"
        try:
            socket = await self._http.ws_connect(
                url,
                params={"after_seq": str(after_seq)},
                headers=self._headers,
                protocols=(SUBPROTOCOL,),
                heartbeat=30.0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in _PERMANENT:
                raise FeedRefusedError(
                    exc.status, f"the server refused to follow {run_id}"
                ) from None
            raise _Reconnect from None
        async with socket:
            expected = after_seq + 1
            async for message in socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = decode_frame(message.data)
                if not isinstance(frame, EventsFrame):
                    raise _Reconnect
                for event in frame.events:
                    if event.seq < expected:
                        continue
                    if event.seq > expected:
                        raise _Reconnect
                    expected += 1
                    yield event
        raise _Reconnect


class _Reconnect(Exception):
    """This socket is done; the follower reconnects from its last `seq`."""
