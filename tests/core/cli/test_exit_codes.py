"""The exit codes a script reads, through the installed entry point."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from batchery.cli._exit import ExitCode

from .conftest import BATCHERY, Batchery, Emulator, clean_environment


def _chat_file(path: Path, count: int) -> Path:
    with path.open("w") as handle:
        for i in range(count):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]}
            line = {"custom_id": f"q-{i}", "method": "POST", "url": "/v1/chat/completions"}
            handle.write(json.dumps(line | {"body": body}) + "\n")
    return path


def test_a_run_where_every_request_succeeds_exits_0(
    batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    done = batchery(
        "run", str(_chat_file(tmp_path / "in.jsonl", 5)), "--base-url", emulator("openai")
    )

    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 0
    assert "failed:" not in done.stderr


def test_ctrl_c_during_a_run_exits_130_with_one_line(emulator: Emulator, tmp_path: Path) -> None:
    source = _chat_file(tmp_path / "in.jsonl", 30)
    slow = emulator("openai", time_scale=2.0)
    env = clean_environment(OPENAI_API_KEY="test-key", BATCHERY_STORE=str(tmp_path / "s.db"))
    proc = subprocess.Popen(
        [BATCHERY, "run", str(source), "--mode", "batch", "--base-url", slow],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "submitted as" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)

    assert proc.returncode == ExitCode.INTERRUPTED, "".join(seen) + rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines() == ["interrupted: run the same command again to resume"]


def test_an_output_directory_gone_by_the_end_exits_5_and_keeps_the_results(
    batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    """Reproduced: `--out` that became unwritable during the run crashed after it."""
    source = _chat_file(tmp_path / "in.jsonl", 30)
    target = tmp_path / "gone"
    target.mkdir()
    env = clean_environment(OPENAI_API_KEY="test-key", BATCHERY_STORE=str(tmp_path / "store.db"))
    proc = subprocess.Popen(
        [BATCHERY, "run", str(source), "--mode", "batch", "--base-url",
         emulator("openai", time_scale=4.0), "--out", str(target / "out.jsonl")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "submitted as" in line:
            break
    target.rmdir()
    target.write_text("now a file\n")
    _, rest = proc.communicate(timeout=90)

    assert proc.returncode == ExitCode.ENVIRONMENT, rest
    assert "Traceback" not in rest
    [line] = rest.strip().splitlines()[-1:]
    assert line.startswith(f"error: cannot write results to {target / 'out.jsonl'}: ")
    rescue = line.split("they are kept in the job store: ")[1].replace("PATH", "saved.jsonl")
    saved = batchery(*rescue.split()[1:])
    assert saved.returncode == 0, saved.stderr
    assert len((tmp_path / "saved.jsonl").read_text().splitlines()) == 30
