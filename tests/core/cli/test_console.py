"""What a person sees in a terminal: log lines above the progress bars, never inside them."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import struct
import subprocess
import termios
from pathlib import Path

from .conftest import BATCHERY, KEY_ENV, Emulator, clean_environment

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _in_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run `args` with stdout and stderr on a 200-column pseudo-terminal; all it wrote."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(
        args, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=cwd
    )
    os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError as exc:  # the terminal closes with the child: EIO on Linux
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


def _workload(path: Path) -> Path:
    with path.open("w") as handle:
        for i in range(30):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]}
            line = {"custom_id": f"q-{i}", "method": "POST", "url": "/v1/chat/completions"}
            handle.write(json.dumps(line | {"body": body}) + "\n")
    return path


def test_verbose_logs_print_above_the_bars_on_lines_of_their_own(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = _workload(tmp_path / "in.jsonl")
    env = clean_environment(
        TERM="xterm-256color",
        BATCHERY_STORE=str(tmp_path / "store.db"),
        **{KEY_ENV["openai"]: "test-key"},
    )

    shown = _in_a_terminal(
        [BATCHERY, "-v", "run", str(source), "--mode", "batch", "--base-url", emulator("openai")],
        env,
        tmp_path,
    )

    segments = [s.strip() for s in re.split(r"[\r\n]", _ANSI.sub("", shown)) if s.strip()]
    logged = [s for s in segments if "openai.batch." in s]
    assert any("openai.batch.collected" in s for s in logged), shown[-3000:]
    for line in logged:
        assert _TIMESTAMP.match(line), f"a log line shares a line with the display: {line!r}"
    assert "━" in shown


def test_logs_on_a_pipe_are_plain_lines_never_json(emulator: Emulator, tmp_path: Path) -> None:
    source = _workload(tmp_path / "in.jsonl")
    env = clean_environment(
        BATCHERY_STORE=str(tmp_path / "store.db"), **{KEY_ENV["openai"]: "test-key"}
    )
    log_file = tmp_path / "run.log"

    done = subprocess.run(
        [BATCHERY, "-v", "--log-file", str(log_file), "run", str(source), "--mode", "batch",
         "--base-url", emulator("openai")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if "openai.batch." in line]
    assert logged
    assert not [line for line in done.stderr.splitlines() if line.lstrip().startswith("{")]
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert {"openai.batch.created", "openai.batch.collected"} <= {r["event"] for r in records}


def test_without_v_the_console_shows_no_info_logs(emulator: Emulator, tmp_path: Path) -> None:
    source = _workload(tmp_path / "in.jsonl")
    env = clean_environment(
        BATCHERY_STORE=str(tmp_path / "store.db"), **{KEY_ENV["openai"]: "test-key"}
    )

    done = subprocess.run(
        [BATCHERY, "run", str(source), "--mode", "batch", "--base-url", emulator("openai")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "openai.batch." not in done.stderr
    assert "completed: 30 succeeded" in done.stderr
