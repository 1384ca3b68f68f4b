"""What each entry point imports: `import batchery` and `--help` load no server stack and no
provider; `batchery run` loads the provider it runs on and nothing of the server or the others.

Each case runs in a fresh interpreter under `-X importtime`, which lists every module imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

SERVER_STACK = frozenset({"litestar", "redis", "uvicorn"})
PROVIDERS = frozenset(
    entry.value.partition(":")[0].split(".")[0]
    for entry in metadata.entry_points(group="batchery.providers")
)


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    return base | extra


def imported_by(*args: str, cwd: Path | None = None, **env: str) -> set[str]:
    """Top-level packages a fresh `python -X importtime ARGS` imports; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=_env(**env),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    names = {line.rpartition("|")[2].strip().split(".")[0] for line in lines[1:]}
    assert "batchery" in names, "importtime listed nothing: the check would prove nothing"
    return names


def test_the_built_in_providers_are_what_the_checks_look_for() -> None:
    assert {"batchery_openai", "batchery_anthropic", "batchery_gemini"} <= PROVIDERS


@pytest.mark.parametrize(
    "args",
    [
        ("-c", "import batchery"),
        ("-m", "batchery", "--help"),
        ("-m", "batchery", "run", "--help"),
    ],
    ids=["import batchery", "batchery --help", "batchery run --help"],
)
def test_starting_up_loads_no_server_stack_and_no_provider(args: tuple[str, ...]) -> None:
    loaded = imported_by(*args)
    assert not loaded & SERVER_STACK
    assert not loaded & PROVIDERS


@pytest.fixture
def emulator() -> Iterator[str]:
    """`batchery emulate openai` in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchery", "emulate", "openai", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ") + "/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_run_loads_only_the_provider_it_runs_on(emulator: str, tmp_path: Path) -> None:
    line = (
        '{"custom_id": "a", "kind": "chat", "model": "gpt-4o-mini",'
        ' "messages": [{"role": "user", "content": "hi"}]}\n'
    )
    (tmp_path / "in.jsonl").write_text(line)
    loaded = imported_by(
        "-m", "batchery", "run", "in.jsonl", "--provider", "openai", "--mode", "realtime",
        "--base-url", emulator, "--store", str(tmp_path / "jobs.db"),
        cwd=tmp_path, OPENAI_API_KEY="sk-emulated",
    )  # fmt: skip
    assert (tmp_path / "in.results.jsonl").read_text().count("\n") == 1
    assert loaded & PROVIDERS == {"batchery_openai"}
    assert not loaded & SERVER_STACK
