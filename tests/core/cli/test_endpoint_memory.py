"""What Batchery remembers belongs to the endpoint it came from, as a user meets it: emulators
in their own processes, reached over `--base-url`, and the real `batchery` entry point."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from openai import OpenAI

from .shell import Cli


def _only_job(store: Path) -> str:
    with sqlite3.connect(store) as db:
        [(job_id,)] = db.execute("SELECT id FROM jobs").fetchall()
    return str(job_id)


def _run(
    cli: Cli, source: Path, base_url: str, store: Path, out: Path, *more: str
) -> dict[str, Any]:
    done = cli.run(
        "run", str(source), "--base-url", base_url, "--store", str(store), "--out", str(out), *more
    )
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def test_the_same_file_at_another_endpoint_is_sent_not_answered_from_the_first_ones_cache(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 40)
    store = tmp_path / "jobs.db"
    with (
        cli.emulator("--time-scale", "500") as first,
        cli.emulator("--time-scale", "500") as second,
    ):
        _run(cli, source, first, store, tmp_path / "a.jsonl")
        again = _run(cli, source, second, store, tmp_path / "b.jsonl")
        with OpenAI(base_url=second, api_key=cli.key, max_retries=0) as client:
            batches = client.batches.list(limit=10).data

    assert again["cached"] == 0
    assert again["succeeded"] == 40
    assert len(batches) == 1
    assert not any(row.get("cached") for row in cli.results(tmp_path / "b.jsonl").values())


def test_the_same_file_at_the_same_endpoint_is_answered_from_its_cache(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "500") as base_url:
        _run(cli, source, base_url, store, tmp_path / "a.jsonl")
        again = _run(cli, source, base_url, store, tmp_path / "b.jsonl", "--new-run")

    assert (again["cached"], again["batches_submitted"]) == (30, 0)


def test_batch_turnaround_learned_on_an_emulator_never_sets_a_real_endpoints_estimate(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 40)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "500") as base_url:
        _run(cli, source, base_url, store, tmp_path / "a.jsonl", "--mode", "batch")
        learned = cli.run("run", str(source), "--base-url", base_url, "--store", str(store),
                          "--dry-run")  # fmt: skip
    real = cli.run("run", str(source), "--store", str(store), "--dry-run", "--no-cache")

    assert learned.returncode == 0, learned.stderr
    assert real.returncode == 0, real.stderr
    batch_at = {
        name: next(e for e in json.loads(done.stdout)["estimates"] if e["mode"] == "batch")
        for name, done in (("emulator", learned), ("real", real))
    }
    assert batch_at["emulator"]["finish_s"] < 60
    assert batch_at["real"]["finish_s"] == 3600 * 1.25


def test_costs_count_real_spend_and_show_emulated_spend_only_when_asked(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 25)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "500") as base_url:
        _run(cli, source, base_url, store, tmp_path / "a.jsonl")

    real = cli.run("costs", "--json", "--store", str(store))
    everything = cli.run("costs", "--json", "--include-emulated", "--store", str(store))
    table = cli.run("costs", "--include-emulated", "--store", str(store))

    assert json.loads(real.stdout) == []
    [row] = json.loads(everything.stdout)
    assert (row["base_url"], row["emulated"], row["requests"]) == (base_url, True, 25)
    assert f"{base_url} (emulator)" in table.stdout


def test_jobs_list_names_an_interrupted_job_and_the_command_that_finishes_it(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "500") as base_url:
        crashed = cli.run(
            "run", str(source), "--mode", "batch", "--base-url", base_url, "--store", str(store),
            BATCHERY_CRASHPOINT="after_link",
        )  # fmt: skip
        listed = cli.run("jobs", "list", "--store", str(store))
        shown = cli.run("jobs", "show", _only_job(store), "--store", str(store))
        report = json.loads(shown.stdout)
        resumed = cli.run(*report["resume"].split()[1:], "--out", str(tmp_path / "out.jsonl"))
        after = cli.run("jobs", "list", "--store", str(store))

    assert crashed.returncode == 137
    assert "interrupted" in listed.stdout
    assert "f.jsonl" in listed.stdout
    assert f"{base_url} (emulator)" in listed.stdout
    assert report["state"] == "interrupted"
    assert report["resume"] == f"batchery jobs resume {report['job']['id']} --store {store}"
    assert report["job"]["endpoint"] == {
        "provider": "openai",
        "base_url": base_url,
        "emulated": True,
    }
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["succeeded"] == 30
    assert len(cli.results(tmp_path / "out.jsonl")) == 30
    assert "interrupted" not in after.stdout
    assert "completed" in after.stdout


def test_jobs_cancel_without_a_base_url_reaches_the_endpoint_the_job_ran_at(
    cli: Cli, tmp_path: Path
) -> None:
    source = cli.chat_file(tmp_path / "f.jsonl", 30)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "1") as base_url:
        cli.run(
            "run", str(source), "--mode", "batch", "--base-url", base_url, "--store", str(store),
            BATCHERY_CRASHPOINT="after_link",
        )  # fmt: skip
        job_id = _only_job(store)
        cancelled = cli.run("jobs", "cancel", job_id, "--store", str(store))
        with OpenAI(base_url=base_url, api_key=cli.key, max_retries=0) as client:
            [batch] = client.batches.list(limit=10).data

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"{job_id}: cancelling"
    assert batch.status in ("cancelling", "cancelled")


def test_resuming_a_job_whose_endpoint_is_gone_says_so_in_one_line(
    cli: Cli, tmp_path: Path
) -> None:
    """The crash leaves a batch create in doubt; finding it out needs the endpoint."""
    source = cli.chat_file(tmp_path / "f.jsonl", 25)
    store = tmp_path / "jobs.db"
    with cli.emulator("--time-scale", "500") as base_url:
        cli.run(
            "run", str(source), "--mode", "batch", "--base-url", base_url, "--store", str(store),
            BATCHERY_CRASHPOINT="after_intent",
        )  # fmt: skip

    resumed = cli.run("jobs", "resume", _only_job(store), "--store", str(store))

    assert resumed.returncode == 4
    assert "Traceback" not in resumed.stderr
    assert "the job is kept as it was" in resumed.stderr
