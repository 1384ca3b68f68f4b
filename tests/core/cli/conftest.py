"""The `batchery` console script and provider emulators, each in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .processes import EmulatorFactory, running_emulator
from .shell import Cli

BATCHERY = str(Path(sys.executable).with_name("batchery"))
"""The installed entry point a user runs, not `python -m`."""

KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}

Batchery = Callable[..., subprocess.CompletedProcess[str]]
Emulator = Callable[..., str]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any provider key or Batchery setting, plus `extra`."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATCHERY_") and not k.endswith("_API_KEY")
    }
    return kept | extra


@pytest.fixture
def batchery(tmp_path: Path) -> Batchery:
    """Run `batchery ARGS...` with keys for every provider (emulators accept any) and a store
    of this test's own."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        keys = {name: "test-key" for name in KEY_ENV.values()}
        environment = clean_environment(
            BATCHERY_STORE=str(tmp_path / "store.db"), **keys, **(env or {})
        )
        return subprocess.run(
            [BATCHERY, *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            cwd=tmp_path,
        )

    return run


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """Start `batchery emulate NAME` on a free port; gives its base URL; stops it afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(name: str, time_scale: float = 500.0, faults: str | None = None) -> str:
        fault_plan = ["--faults", faults] if faults else []
        proc = subprocess.Popen(
            [
                BATCHERY,
                "emulate",
                name,
                "--port",
                "0",
                "--time-scale",
                str(time_scale),
                *fault_plan,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_environment(),
        )
        started.append(proc)
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("base URL: "):
                return line.removeprefix("base URL: ").strip()
        raise AssertionError(f"emulator {name} printed no base URL")

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def emulated() -> EmulatorFactory:
    """Start `batchery emulate NAME OPTIONS...` as a context; it gives the base URL."""
    return running_emulator


@pytest.fixture
def cli() -> Cli:
    """Commands as a user runs them, with emulators beside them (see `shell.Cli`)."""
    return Cli()
