"""`batchery run` as a user meets it: files in, one line per custom_id out, clear refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _batchery(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "batchery", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def _lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _chat(custom_id: str) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    }


def test_a_run_writes_one_result_per_custom_id_and_a_summary(tmp_path: Path) -> None:
    rows: list[object] = [_chat(f"c{i}") for i in range(25)]
    rows.append(
        {"custom_id": "e1", "kind": "embedding", "input": "text", "model": "text-embedding-3-small"}
    )
    source = _lines(tmp_path / "in.jsonl", rows)

    done = _batchery(
        "run",
        str(source),
        "--emulate",
        "--store",
        str(tmp_path / "db"),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--summary",
        str(tmp_path / "s.json"),
    )

    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["custom_id"] for row in out] == [f"c{i}" for i in range(25)] + ["e1"]
    by_id = {row["custom_id"]: row for row in out}
    assert by_id["c0"]["ok"] is True
    assert len(by_id["e1"]["vector"]) > 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["total"] == 26
    assert (summary["succeeded"], summary["failed"]) == (26, 0)
    assert summary["mode"] == "batch"
    assert summary["batches_submitted"] == 2
    assert summary["run_id"].startswith("run_")
    assert summary["duration_s"] >= 0
    assert summary["failures"] == []
    assert summary["exit_code"] == 0
    assert json.loads(done.stdout) == summary
    assert "failed:" not in done.stderr


def test_unusable_lines_stop_the_run_naming_each_line(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"custom_id": "a", "input": "x", "kind": "embedding"}\n{oops\n'
        '{"custom_id": "a", "input": "y", "kind": "embedding"}\n'
        '{"custom_id": "bad", "kind": "sing"}\n'
    )

    done = _batchery("run", str(source), "--emulate", "--store", str(tmp_path / "db"))

    assert done.returncode == 2
    assert f"{source}: line 2: not valid JSON" in done.stderr
    assert f"{source}: line 3: custom_id 'a' is a duplicate of line 1" in done.stderr
    assert (
        f"{source}: line 4 (custom_id 'bad'): kind 'sing' is not one of chat, embedding,"
        in done.stderr
    )
    assert not (tmp_path / "in.results.jsonl").exists()


def test_a_missing_key_is_named_before_anything_runs(tmp_path: Path) -> None:
    source = _lines(tmp_path / "in.jsonl", [_chat("a")])

    done = _batchery("run", str(source), "--store", str(tmp_path / "db"))

    assert done.returncode == 4
    assert "OPENAI_API_KEY is not set" in done.stderr
    assert "--emulate" in done.stderr


def test_an_unreachable_base_url_fails_and_keeps_the_run_for_later(tmp_path: Path) -> None:
    source = _lines(tmp_path / "in.jsonl", [_chat(f"c{i}") for i in range(3)])
    secret = "sk-test-unreachable-0123456789abcdef"

    done = _batchery(
        "run",
        str(source),
        "--mode",
        "batch",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--store",
        str(tmp_path / "db"),
        env={"OPENAI_API_KEY": secret, "BATCHERY_RECONCILE_GRACE_S": "0"},
    )

    assert done.returncode == 4
    assert "nothing could be sent" in done.stderr
    assert "run the same command again" in done.stderr
    assert secret not in done.stderr + done.stdout
    listed = _batchery("jobs", "list", "--store", str(tmp_path / "db"))
    assert "interrupted" in listed.stdout


@pytest.mark.parametrize("command", [["providers"], ["jobs", "list"], ["config"]])
def test_inspection_commands_answer(command: list[str], tmp_path: Path) -> None:
    done = _batchery(*command, env={"BATCHERY_STORE": str(tmp_path / "db")})

    assert done.returncode == 0, done.stderr


def test_providers_lists_openai_with_its_limits() -> None:
    done = _batchery("providers", "--json")

    [openai] = [p for p in json.loads(done.stdout) if p["name"] == "openai"]
    assert openai["distribution"] == "batchery-openai"
    assert openai["error"] is None
    assert sorted(openai["info"]["kinds"]) == ["chat", "embedding"]
    assert openai["info"]["limits"]["max_requests_per_batch"] == 50_000


def test_jobs_show_and_results_read_a_finished_run(tmp_path: Path) -> None:
    source = _lines(tmp_path / "in.jsonl", [_chat(f"c{i}") for i in range(3)])
    store = str(tmp_path / "db")
    _batchery(
        "run", str(source), "--emulate", "--store", store, "--summary", str(tmp_path / "s.json")
    )
    run_id = json.loads((tmp_path / "s.json").read_text())["run_id"]

    shown = _batchery("jobs", "show", run_id, "--store", store)
    listed = json.loads(_batchery("jobs", "list", "--json", "--store", store).stdout)
    exported = _batchery(
        "jobs", "results", run_id, "--out", str(tmp_path / "r.jsonl"), "--store", store
    )

    counts = json.loads(shown.stdout)["counts"]
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (3, 3, 0)
    assert counts["cost_usd"] > 0
    assert [(j["job"]["id"], j["state"], j["counts"]) for j in listed] == [
        (run_id, "completed", counts)
    ]
    assert exported.returncode == 0
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 3
    assert _batchery("jobs", "show", "run_nope", "--store", store).returncode == 2
