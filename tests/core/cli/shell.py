"""`batchery` and `batchery emulate` as separate processes, for CLI tests over `--base-url`:
`Cli` (the `cli` fixture in conftest) runs commands as a user would and starts emulators
beside them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEY = "sk-test-endpoint"


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


def _env(**extra: str) -> dict[str, str]:
    own = ("BATCHERY_", "OPENAI_", "VOYAGE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return base | {
        "OPENAI_API_KEY": KEY,
        "VOYAGE_API_KEY": KEY,
        "BATCHERY_POLL_INTERVAL_S": "0.1",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.2",
        "BATCHERY_RECONCILE_GRACE_S": "0.1",
        "BATCHERY_LOG_FORMAT": "json",
        **extra,
    }


class Cli:
    """The `batchery` entry point in a subprocess, with fast polling and a test key."""

    key = KEY

    @staticmethod
    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _argv(*args), env=_env(**extra), capture_output=True, text=True, timeout=120
        )

    @staticmethod
    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        return port

    @staticmethod
    def chat_file(path: Path, count: int) -> Path:
        with path.open("w") as handle:
            for i in range(count):
                body = {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": f"Say {i}"}],
                }
                line = {"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions"}
                handle.write(json.dumps(line | {"body": body}) + "\n")
        return path

    @staticmethod
    def results(path: Path) -> dict[str, dict[str, object]]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        by_id = {row["custom_id"]: row for row in rows}
        assert len(by_id) == len(rows), "a custom_id came back twice"
        return by_id

    @staticmethod
    @contextmanager
    def emulator(*args: str, port: int = 0, provider: str = "openai") -> Iterator[str]:
        """`batchery emulate PROVIDER` in its own process; yields its base URL."""
        with _emulator(provider, *args, port=port) as base_url:
            yield base_url


@contextmanager
def _emulator(provider: str, *args: str, port: int) -> Iterator[str]:
    proc = subprocess.Popen(
        _argv("emulate", provider, "--port", str(port), *args),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ") + "/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
