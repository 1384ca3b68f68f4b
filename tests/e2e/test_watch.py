"""`batchery watch` follows a run that `batchery demo` drives in another process, through a
`batchery serve` that shares its job store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batchery.server.config import hash_token

TOKEN = "tok-watch-0123456789abcdef"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    return base | extra


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(f'default_tenant = "default"\n[tokens]\n"{hash_token(TOKEN)}" = "default"\n')
    proc = subprocess.Popen(
        _cli("serve", "--port", "0", "--store", str(tmp_path / "jobs.db"), "--tokens", str(tokens)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def _runs(url: str) -> list[dict[str, object]]:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 -- a loopback http URL, checked above
        url + "/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 -- as above
        runs: list[dict[str, object]] = json.load(response)["runs"]
        return runs


def _watch_the_demo(
    server: str, tmp_path: Path, pick: Callable[[str], str]
) -> tuple[str, str, subprocess.CompletedProcess[str]]:
    """Start `batchery demo` on the server's store, watch `pick(first job id)` until it ends."""
    demo = subprocess.Popen(
        _cli("demo", "--store", str(tmp_path / "jobs.db"), "--requests", "60",
             "--time-scale", "20"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        runs: list[dict[str, object]] = []
        while not runs:
            assert time.monotonic() < deadline, "the demo's run never showed up"
            time.sleep(0.2)
            runs = _runs(server)
        job_id = str(runs[0]["run_id"])
        watched = subprocess.run(
            _cli("watch", pick(job_id), "--url", server),
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(BATCHERY_TOKEN=TOKEN),
            check=False,
        )
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    return job_id, pick(job_id), watched


def test_watch_follows_a_run_from_another_process_to_its_end(server: str, tmp_path: Path) -> None:
    run_id, _, watched = _watch_the_demo(server, tmp_path, lambda job_id: job_id)

    assert watched.returncode == 0, watched.stderr
    lines = watched.stderr.splitlines()
    assert lines[-1] == f"{run_id}: completed"
    assert any(f"{run_id} completed: 60 succeeded" in line for line in lines)
    assert TOKEN not in watched.stderr + watched.stdout


def test_watch_refuses_a_bad_token_without_echoing_it(server: str) -> None:
    bad = "tok-wrong-0123456789abcdef"
    watched = subprocess.run(
        _cli("watch", "run_unknown", "--url", server),
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(BATCHERY_TOKEN=bad),
        check=False,
    )
    assert watched.returncode == 4  # the server refused the credentials
    assert "HTTP 401" in watched.stderr
    assert bad not in watched.stderr


def test_watch_follows_a_graph_nodes_run_with_its_jobs(server: str, tmp_path: Path) -> None:
    job_id, node_run, watched = _watch_the_demo(
        server, tmp_path, lambda job_id: job_id.removesuffix("-1")
    )

    assert node_run.endswith("-infer-atoms"), job_id
    assert watched.returncode == 0, watched.stderr
    lines = watched.stderr.splitlines()
    assert lines[-1] == f"{node_run}: completed"
    assert any(line.startswith(f"{node_run} node infer-atoms finished") for line in lines)
    assert any(line.startswith(f"{job_id} completed: 60 succeeded") for line in lines)
