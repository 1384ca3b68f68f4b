"""Every command meets a broken environment with one line and its documented exit code.

Unwritable paths, a provider or server nobody answers for, a missing key, an unknown job id,
a port already taken: each is a user's environment, not a bug, so the installed `batchery`
entry point must name the item and what to do in one line on stderr, never a traceback, and
exit with the code `batchery --help` documents.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from batchery.cli._exit import ExitCode

BATCHERY = str(Path(sys.executable).with_name("batchery"))


class Case(NamedTuple):
    name: str
    args: tuple[str, ...]
    code: ExitCode
    says: str
    env: tuple[tuple[str, str], ...] = ()


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port bound but never listened on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _cases(closed: int, taken: int) -> list[Case]:
    dead = f"http://127.0.0.1:{closed}/v1"
    bad_store = ("--store", "a-file/store.db")
    return [
        Case("run, store under a file", ("run", "in.jsonl", "--base-url", dead, *bad_store),
             ExitCode.ENVIRONMENT, "cannot use the job store a-file/store.db"),
        Case("run, store is a directory", ("run", "in.jsonl", "--base-url", dead, "--store", "."),
             ExitCode.ENVIRONMENT, "it is a directory"),
        Case("run, --out under a file", ("run", "in.jsonl", "--out", "a-file/out.jsonl"),
             ExitCode.ENVIRONMENT, "cannot write results to a-file/out.jsonl"),
        Case("run, --out is a directory", ("run", "in.jsonl", "--out", "."),
             ExitCode.USAGE, "is a directory"),
        Case("run, --summary under a file", ("run", "in.jsonl", "--summary", "a-file/s.json"),
             ExitCode.ENVIRONMENT, "cannot write the summary to a-file/s.json"),
        Case("run, --log-file under a file", ("--log-file", "a-file/log", "run", "in.jsonl"),
             ExitCode.ENVIRONMENT, "cannot write the log file a-file/log"),
        Case("run, no input file", ("run", "missing.jsonl"), ExitCode.USAGE, "does not exist"),
        Case("run, missing key", ("run", "in.jsonl"), ExitCode.PROVIDER_UNAVAILABLE,
             "OPENAI_API_KEY is not set", (("OPENAI_API_KEY", ""),)),
        Case("run batch, unreachable provider", ("run", "in.jsonl", "--mode", "batch",
             "--base-url", dead), ExitCode.PROVIDER_UNAVAILABLE, "nothing could be sent"),
        Case("jobs list, bad store", ("jobs", "list", *bad_store), ExitCode.ENVIRONMENT,
             "cannot use the job store"),
        Case("jobs show, bad store", ("jobs", "show", "run_x", *bad_store),
             ExitCode.ENVIRONMENT, "cannot use the job store"),
        Case("jobs show, unknown id", ("jobs", "show", "run_nope"), ExitCode.USAGE,
             "no job 'run_nope'"),
        Case("jobs results, unknown id", ("jobs", "results", "run_nope", "--out", "o.jsonl"),
             ExitCode.USAGE, "no job 'run_nope'"),
        Case("jobs cancel, unknown id", ("jobs", "cancel", "run_nope"), ExitCode.USAGE,
             "no job 'run_nope'"),
        Case("jobs cancel, bad store", ("jobs", "cancel", "run_x", *bad_store),
             ExitCode.ENVIRONMENT, "cannot use the job store"),
        Case("costs, bad store", ("costs", *bad_store), ExitCode.ENVIRONMENT,
             "cannot use the job store"),
        Case("cache prune, bad store", ("cache", "prune", "--older-than", "1d", *bad_store),
             ExitCode.ENVIRONMENT, "cannot use the job store"),
        Case("demo, bad store", ("demo", *bad_store), ExitCode.ENVIRONMENT,
             "cannot use the job store"),
        Case("serve, bad store", ("serve", "--port", "0", *bad_store), ExitCode.ENVIRONMENT,
             "cannot use the job store"),
        Case("serve, port taken", ("serve", "--port", str(taken)), ExitCode.ENVIRONMENT,
             f"cannot listen on 127.0.0.1:{taken}"),
        Case("emulate, port taken", ("emulate", "openai", "--port", str(taken)),
             ExitCode.ENVIRONMENT, f"cannot listen on 127.0.0.1:{taken}"),
        Case("watch, unreachable server", ("watch", "run_x", "--url",
             f"http://127.0.0.1:{closed}"), ExitCode.PROVIDER_UNAVAILABLE, "cannot reach",
             (("BATCHERY_TOKEN", "t"),)),
        Case("config, missing file", ("config", "--config", "missing.toml"), ExitCode.USAGE,
             "missing.toml"),
        Case("unknown command", ("rnu",), ExitCode.USAGE, "No such command 'rnu'"),
    ]  # fmt: skip


CASE_NAMES = [case.name for case in _cases(0, 0)]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a directory\n")
    request = {
        "custom_id": "q-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    }
    (tmp_path / "in.jsonl").write_text(json.dumps(request) + "\n")
    return tmp_path


def _environment(workdir: Path, extra: tuple[tuple[str, str], ...]) -> dict[str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATCHERY_") and not k.endswith("_API_KEY")
    }
    given = {
        "OPENAI_API_KEY": "test-key",
        "BATCHERY_STORE": str(workdir / "store.db"),
        "BATCHERY_RECONCILE_GRACE_S": "0",
    }
    return {k: v for k, v in (kept | given | dict(extra)).items() if v}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_a_broken_environment_gets_one_line_and_its_exit_code(
    name: str, workdir: Path, closed_port: int, taken_port: int
) -> None:
    case = next(c for c in _cases(closed_port, taken_port) if c.name == name)

    done = subprocess.run(
        [BATCHERY, *case.args],
        env=_environment(workdir, case.env),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert "Traceback" not in done.stderr
    assert done.returncode == case.code, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), done.stderr
    assert case.says in last, done.stderr


def test_a_realtime_run_nobody_answers_exits_4_and_says_nothing_was_sent(
    workdir: Path, closed_port: int
) -> None:
    done = subprocess.run(
        [BATCHERY, "run", "in.jsonl", "--mode", "realtime", "--base-url",
         f"http://127.0.0.1:{closed_port}/v1"],
        env=_environment(workdir, ()),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )  # fmt: skip

    assert "Traceback" not in done.stderr
    assert done.returncode == ExitCode.PROVIDER_UNAVAILABLE, done.stderr
    assert "retrying" not in done.stderr  # each retry has its own line only with -v
    assert "1x connection_error" in done.stderr
    assert "(e.g. q-1)" in done.stderr
    assert "nothing was sent: the provider could not be reached" in done.stderr
    assert json.loads(done.stdout)["exit_code"] == ExitCode.PROVIDER_UNAVAILABLE


def test_a_store_another_process_holds_exits_5_naming_it(workdir: Path) -> None:
    store = workdir / "busy.db"
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        done = subprocess.run(
            [BATCHERY, "run", "in.jsonl", "--store", str(store), "--base-url",
             "http://127.0.0.1:9/v1"],
            env=_environment(workdir, (("BATCHERY_STORE_BUSY_TIMEOUT_S", "1"),)), cwd=workdir,
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert "Traceback" not in done.stderr
    assert done.returncode == ExitCode.ENVIRONMENT, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: the job store {store} stayed busy for 1s (another process holds its write "
        "lock); try again, or raise store_busy_timeout_s"
    ]


def test_help_documents_every_exit_code() -> None:
    done = subprocess.run([BATCHERY, "--help"], capture_output=True, text=True, check=True)

    documented = re.findall(r"^ +(\d+) +\S", done.stdout.split("Exit codes:")[1], re.M)
    assert [int(code) for code in documented] == [code.value for code in ExitCode]
