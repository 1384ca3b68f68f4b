"""Two `batchery run --mode realtime` processes on one job call each request once.

Both processes reach the emulator through one counting proxy, so every call is counted at the
emulator's door; a test pauses one process to attribute what the proxy sees to the other.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from batchery.cli._exit import ExitCode
from batchery.testing._proxy import CountingProxy

from .conftest import Shells

REQUESTS = 120
CHAT = "/v1/chat/completions"


@pytest.fixture
def emulator_options() -> list[str]:
    """0.3 s a call: 120 requests at 16 at a time take about 2.3 s, long enough to overlap."""
    return ["--time-scale", "40", "--latency", "0.3"]


@asynccontextmanager
async def _proxied(shells: Shells) -> AsyncIterator[tuple[CountingProxy, Shells]]:
    proxy = CountingProxy(shells.base_url.removesuffix("/v1"))
    await proxy.start()
    try:
        yield proxy, Shells(shells.root, proxy.root_url + "/v1", shells.workload)
    finally:
        await proxy.close()


def _calls(proxy: CountingProxy, mark: int = 0) -> int:
    return sum(1 for e in proxy.since(mark) if e.method == "POST" and e.path == CHAT)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait in a thread, so the proxies on this loop keep serving meanwhile."""
    assert await asyncio.to_thread(Shells.wait_for, condition)


async def _exit_code(proc: subprocess.Popen[bytes]) -> int:
    return await asyncio.to_thread(proc.wait, 120)


def _one_story(shells: Shells, tag: str) -> None:
    """One job, every request answered once, nothing logged after the run finished."""
    jobs = shells.jobs()
    assert len(jobs) == 1
    ids = sorted(str(r["custom_id"]) for r in shells.results(tag))
    assert ids == sorted(f"item-{i}" for i in range(REQUESTS))
    events = shells.events(jobs[0][0])
    assert events.count("run_finished") == 1
    assert events[-1] == "run_finished"


@pytest.mark.parametrize("offset_s", [0.0, 0.05, 0.1])
async def test_the_same_realtime_command_twice_calls_each_request_once(
    offset_s: float, shells: Shells
) -> None:
    async with _proxied(shells) as (proxy, via):
        first = via.run("a", "realtime")
        await asyncio.sleep(offset_s)
        second = via.run("b", "realtime")
        codes = [await _exit_code(first), await _exit_code(second)]

    said = [shells.stderr("a"), shells.stderr("b")]
    assert codes == [ExitCode.OK, ExitCode.OK], said
    assert not any("Traceback" in text for text in said)
    assert _calls(proxy) == REQUESTS
    _one_story(shells, "a")


async def test_a_realtime_driver_paused_past_its_lease_calls_nothing_after(
    shells: Shells,
) -> None:
    """The newcomer is paused too while the first resumes, so every call the emulator gets
    in that window would be the first's; the newcomer's own lease is long enough to wait."""
    async with _proxied(shells) as (proxy, via):
        first = via.run("a", "realtime")
        await _until(lambda: _calls(proxy) >= 20)
        shells.pause_between_writes(first)
        await asyncio.sleep(3.5)
        second = via.run("b", "realtime", BATCHERY_LEASE_S="30")
        took_over = f":{second.pid}:"
        await _until(lambda: any(took_over in (j[2] or "") for j in shells.jobs()))
        await _until(lambda: _calls(proxy) >= 60)
        shells.pause_between_writes(second)
        await asyncio.sleep(1.0)
        await _until(lambda: proxy.in_flight == 0)
        mark = len(proxy.exchanges)
        first.send_signal(signal.SIGCONT)
        paused_code = await _exit_code(first)
        called_after = _calls(proxy, mark)
        second.send_signal(signal.SIGCONT)
        codes = [paused_code, await _exit_code(second)]

    paused = shells.stderr("a")
    assert codes == [ExitCode.HELD_ELSEWHERE, ExitCode.OK], (paused, shells.stderr("b"))
    assert "Traceback" not in paused
    assert called_after == 0
    _one_story(shells, "b")
