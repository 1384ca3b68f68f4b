"""The live page in a real headless Chromium shows a run reaching 100% from its WebSocket.

Chromium is Debian's package (`.ci/run` installs it); the test drives it through the DevTools
protocol over aiohttp. Without Chromium the test skips, except in CI, where it must run.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from batchery.app import build_application
from batchery.model import LlmRequest, Message, Mode
from batchery.server.app import create_app
from batchery.server.config import ServerConfig, hash_token
from batchery.server.owners import acting_for
from batchery.server.serving import bind, origin_of, serve_in_background
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

CHROMIUM = shutil.which("chromium")
TOKEN = "tok-page-0123456789abcdef"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)

_ROWS = """JSON.stringify([...document.querySelectorAll('#runs tbody tr')].map(r => ({
  id: r.dataset.runId, status: r.dataset.status, percent: Number(r.dataset.percent),
  live: r.dataset.live || null, label: r.querySelector('.label').textContent,
  phase: r.querySelector('.phase').textContent})))"""


class DevTools:
    """Just enough of the DevTools protocol: send a command, wait for its answer."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self._socket.send_json({"id": ident, "method": method, "params": params})
        async for message in self._socket:
            answer = json.loads(message.data)
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result
        raise RuntimeError("the browser went away")

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        "--window-size=1200,700",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield DevTools(ws)
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _start_run(service: BatchLlmService) -> tuple[str, asyncio.Task[object]]:
    requests = [
        LlmRequest(custom_id=f"p{n}", model="gpt-4o-mini", messages=(Message("user", "hi"),))
        for n in range(60)
    ]
    async with service.bus.subscribe() as queue:
        with acting_for("acme"):
            task: asyncio.Task[object] = asyncio.create_task(service.run(requests, mode=Mode.BATCH))
        first = await asyncio.wait_for(queue.get(), timeout=10)
    return first.run_id, task


async def _rows(browser: DevTools) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(await browser.evaluate(_ROWS))
    return rows


async def test_the_page_shows_a_run_reaching_100_percent(tmp_path: Path) -> None:
    options = EmulatorOptions(time_scale=10.0, seed=7)
    async with OpenAIEmulator(options, api_key="sk-page") as emulator:
        settings = Settings(
            store=str(tmp_path / "jobs.db"),
            poll_interval_s=0.1,
            poll_backoff=1.0,
            poll_max_interval_s=0.1,
            max_requests_per_batch=20,
        )
        app = await build_application(
            settings,
            only=["openai"],
            provider_options={"openai": {"base_url": emulator.base_url, "api_key": "sk-page"}},
        )
        try:
            service = await app.get("batchery.service", BatchLlmService)
            listener = bind()
            config = ServerConfig(
                tokens={hash_token(TOKEN): "acme"}, allowed_origins=(origin_of(listener),)
            )
            async with (
                serve_in_background(create_app(config, app), listener) as server,
                chromium(tmp_path / "profile") as browser,
            ):
                await browser.call("Page.enable")
                await browser.call("Runtime.enable")
                run_id, task = await _start_run(service)
                await browser.call("Page.navigate", url=f"{server.url}/#token={TOKEN}")
                seen: list[dict[str, Any]] = []
                async with asyncio.timeout(60):
                    while True:
                        row = next((r for r in await _rows(browser) if r["id"] == run_id), None)
                        if row is not None:
                            seen.append(row)
                            if row["percent"] == 100 and row["status"] == "completed":
                                break
                        await asyncio.sleep(0.1)
                await task
                shot = await browser.call("Page.captureScreenshot", format="png")
                (tmp_path / "page.png").write_bytes(base64.b64decode(shot["data"]))
                location = await browser.evaluate("location.href")
        finally:
            await app.close()

    final = seen[-1]
    assert final["live"] == "ws"
    assert final["label"].startswith("60 / 60")
    assert final["phase"] == "done"
    assert any(row["percent"] < 100 for row in seen), "the page never showed the run in progress"
    assert TOKEN not in location
