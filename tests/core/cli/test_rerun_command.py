"""Running the same command again finishes the work: it sends again exactly the requests that
ended with a retryable error, keeps every stored answer, and never sends a refused request one
by one. The emulators run in their own processes; their rate-limit headers count the calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai import OpenAI

from .shell import Cli

RPM = 100_000
COUNTING = ("--rpm", str(RPM), "--time-scale", "0.001")
"""An emulator whose per-minute allowance outlasts the test, so what is left counts calls:
its emulated minute lasts over sixteen real hours, so a window hardly ever turns mid-test."""


def _calls_so_far(cli: Cli, base_url: str) -> int:
    """Realtime calls the emulator has answered, not counting this one."""
    with OpenAI(base_url=base_url, api_key=cli.key, max_retries=0) as client:
        reply = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "count"}]
        )
    return RPM - int(reply.headers["x-ratelimit-remaining-requests"]) - 1


def _run(cli: Cli, source: Path, base_url: str, tmp_path: Path, *more: str) -> dict[str, Any]:
    done = cli.run(
        "run", str(source), "--mode", "realtime", "--base-url", base_url,
        "--store", str(tmp_path / "jobs.db"), "--out", str(tmp_path / "out.jsonl"), *more,
        BATCHERY_MAX_ATTEMPTS="1",
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def test_after_an_outage_the_same_command_sends_what_failed_and_then_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    port = cli.free_port()
    base_url = f"http://127.0.0.1:{port}/v1"

    down = _run(cli, source, base_url, tmp_path)
    errors = {row["error"]["code"] for row in cli.results(tmp_path / "out.jsonl").values()}
    with cli.emulator(*COUNTING, port=port):
        back = _run(cli, source, base_url, tmp_path)
        sent_back = _calls_so_far(cli, base_url)
        again = _run(cli, source, base_url, tmp_path, "--no-cache")
        sent_again = _calls_so_far(cli, base_url) - sent_back - 1
    real_spend = cli.run("costs", "--json", "--store", str(tmp_path / "jobs.db"))

    assert (down["succeeded"], down["failed"]) == (0, 30)
    assert errors == {"connection_error"}
    assert (back["run_id"], back["resumed"]) == (down["run_id"], True)
    assert (back["succeeded"], back["failed"]) == (30, 0)
    assert sent_back == 30
    assert (again["succeeded"], sent_again) == (30, 0)
    assert all(row["ok"] for row in cli.results(tmp_path / "out.jsonl").values())
    assert json.loads(real_spend.stdout) == [], "the emulator that came back is known as one"


def test_a_rerun_sends_only_the_requests_that_failed_and_keeps_the_answers(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    port = cli.free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with cli.emulator("--faults", "http_500=0.5", "--seed", "3", port=port):
        first = _run(cli, source, base_url, tmp_path)
    before = cli.results(tmp_path / "out.jsonl")
    failed = {cid for cid, row in before.items() if not row["ok"]}
    with cli.emulator(*COUNTING, port=port):
        rerun = _run(cli, source, base_url, tmp_path)
        sent = _calls_so_far(cli, base_url)
    after = cli.results(tmp_path / "out.jsonl")

    assert 0 < first["failed"] == len(failed) < 30
    assert sent == len(failed)
    assert (rerun["succeeded"], rerun["failed"]) == (30, 0)
    assert {cid: after[cid] for cid in before if cid not in failed} == {
        cid: row for cid, row in before.items() if cid not in failed
    }


def test_permanent_failures_go_again_only_with_retry_failed(cli: Cli, tmp_path: Path) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    args = ("--mode", "batch", "--store", str(tmp_path / "jobs.db"))
    out = ("--out", str(tmp_path / "out.jsonl"))
    with cli.emulator("--faults", "line_error=0.5", "--seed", "5", "--time-scale", "500") as url:
        first = cli.run("run", str(source), "--base-url", url, *args, *out)
        refused = {
            cid: row["error"]
            for cid, row in cli.results(tmp_path / "out.jsonl").items()
            if not row["ok"]
        }
        same = cli.run("run", str(source), "--base-url", url, *args, *out)
        unchanged = cli.results(tmp_path / "out.jsonl")
        retried = cli.run("run", str(source), "--base-url", url, *args, *out, "--retry-failed")

    assert first.returncode != 2, first.stderr
    assert refused
    assert all(error["status"] == 400 and not error.get("retryable") for error in refused.values())
    assert json.loads(same.stdout)["failed"] == len(refused)
    assert {cid for cid, row in unchanged.items() if not row["ok"]} == set(refused)
    summary = json.loads(retried.stdout)
    assert (summary["succeeded"], summary["failed"]) == (30, 0)
    assert summary["run_id"] == json.loads(first.stdout)["run_id"]


def test_new_run_starts_a_fresh_job(cli: Cli, tmp_path: Path) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 5)
    with cli.emulator("--time-scale", "500") as base_url:
        first = _run(cli, source, base_url, tmp_path)
        fresh = _run(cli, source, base_url, tmp_path, "--new-run", "--no-cache")

    assert fresh["run_id"] != first["run_id"]
    assert (fresh["resumed"], fresh["succeeded"], fresh["cached"]) == (False, 5, 0)


def test_a_refused_batch_create_is_not_sent_again_one_by_one(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "emb.jsonl"
    with source.open("w") as handle:
        for i in range(200):
            body = {"model": "text-embedding-3-small", "input": f"text {i}"}
            handle.write(json.dumps({"custom_id": f"e{i}", "method": "POST",
                                     "url": "/v1/embeddings", "body": body}) + "\n")  # fmt: skip
    with cli.emulator("--time-scale", "500", provider="voyage") as base_url:
        done = cli.run(
            "run", str(source), "--provider", "voyage", "--base-url", base_url,
            "--store", str(tmp_path / "jobs.db"), "--out", str(tmp_path / "out.jsonl"),
        )  # fmt: skip
    rows = cli.results(tmp_path / "out.jsonl").values()

    assert "Traceback" not in done.stderr, done.stderr
    assert len(rows) == 200
    assert {(row["mode"], row["error"]["status"]) for row in rows} == {("batch", 400)}
