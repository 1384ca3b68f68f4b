"""The follow-progress how-to's examples, Python's client and a WebSocket from JavaScript, each
run against a real `batchery serve` on a store that holds one finished run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


class Server(msgspec.Struct, frozen=True):
    url: str
    token: str
    run_id: str


def _env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "ANTHROPIC_"))}
    return env | {"BATCHERY_STORE": str(store)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a store where `chats.jsonl` has run on Anthropic's emulator."""
    where = tmp_path_factory.mktemp("follow")
    env = _env(where / "jobs.db")
    command = [sys.executable, "-m", "batchery", "run", str(EXAMPLES / "chats.jsonl")]
    command += ["--provider", "anthropic", "--emulate", "--out", "results.jsonl"]
    command += ["--summary", "summary.json"]
    subprocess.run(command, cwd=where, env=env, check=True, capture_output=True, timeout=60)
    run_id = msgspec.json.decode((where / "summary.json").read_bytes())["run_id"]
    serve = [sys.executable, "-m", "batchery", "serve", "--port", "0"]
    process = subprocess.Popen(serve, cwd=where, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        token = process.stdout.readline().split()[-1]
        yield Server(url, token, run_id)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _follow(args: list[str], server: Server) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    done = subprocess.run(
        [*args, server.url, server.run_id],
        env=env | {"BATCHERY_TOKEN": server.token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _events(lines: list[str]) -> list[dict[str, object]]:
    return [msgspec.json.decode(line) for line in lines if line.startswith("{")]


def test_the_python_client_prints_every_event_in_order_then_the_folded_state(
    server: Server,
) -> None:
    lines = _follow([sys.executable, str(EXAMPLES / "follow_progress.py")], server)

    events = _events(lines)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "mode_chosen"
    assert events[-1]["type"] == "run_finished"
    assert lines[-1] == "completed: 2 succeeded, 0 failed"


def test_the_javascript_websocket_prints_every_event_and_the_close(server: Server) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the JavaScript example needs Node 20 or later")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout[1:3])
    flags = ["--experimental-websocket"] if major < 22 else []
    lines = _follow([node, *flags, str(EXAMPLES / "follow_progress.mjs")], server)

    events = _events(lines)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run_finished"
    assert lines[-1] == "closed 1000 run finished"
