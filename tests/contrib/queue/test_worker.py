"""`batchery submit` then `batchery worker`: real processes, the OpenAI emulator over HTTP,
PostgreSQL. The queue decides which run a worker takes and when; the job's lease keeps every
provider batch created once, even when a worker is killed mid-run."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from .conftest import CHUNKS, REQUESTS, Queue

IDS = sorted(f"item-{i}" for i in range(REQUESTS))


def test_a_submitted_run_is_driven_by_a_worker_to_one_result_per_request(queue: Queue) -> None:
    run_id = queue.submitted()
    assert run_id.startswith("run_")
    assert queue.status(run_id) == "pending"
    assert queue.batches_created() == 0

    queue.start_worker("a", "--store", queue.store)

    assert queue.wait_for(lambda: queue.status(run_id) == "completed", within_s=30)
    assert queue.result_ids(run_id) == IDS
    assert queue.batches_created() == CHUNKS
    assert queue.claimed("a") == [run_id]
    assert f"{run_id} completed: {REQUESTS} succeeded, 0 failed" in queue.said("a")


def test_a_worker_takes_the_highest_priority_first(queue: Queue) -> None:
    low, high, middle = queue.all_submitted(
        [("--priority", "1"), ("--priority", "10"), ("--priority", "5")], workload=queue.small
    )

    queue.start_worker("a", "--store", queue.store, "--concurrency", "2")

    assert queue.wait_for(lambda: len(queue.claimed("a")) == 3, within_s=40)
    assert queue.claimed("a") == [high, middle, low]


def test_a_run_is_held_until_its_not_before_time(queue: Queue) -> None:
    queue.start_worker("a", "--store", queue.store)
    opens = datetime.now(UTC) + timedelta(seconds=10)
    held, now = queue.all_submitted([("--not-before", opens.isoformat()), ()], workload=queue.small)

    assert queue.wait_for(lambda: queue.claimed("a") == [now], within_s=10)
    waiting = (opens - datetime.now(UTC)).total_seconds() - 0.5
    assert waiting > 1, "the machine was too slow to see the hold"

    assert not queue.wait_for(lambda: held in queue.claimed("a"), within_s=waiting)
    assert (held, "queued") in queue.queued()
    assert queue.wait_for(lambda: held in queue.claimed("a"), within_s=30)
    assert datetime.now(UTC) >= opens
    assert queue.wait_for(lambda: queue.status(held) == "completed", within_s=30)


def test_sigterm_finishes_the_run_in_hand_claims_no_more_and_exits_0(queue: Queue) -> None:
    first = queue.submitted()
    worker = queue.start_worker("a", "--store", queue.store)
    assert queue.wait_for(lambda: queue.batches_created() >= 1, within_s=20)

    worker.send_signal(signal.SIGTERM)
    second = queue.submitted()
    code = worker.wait(timeout=60)

    assert code == 0, queue.said("a")
    assert "draining" in queue.said("a")
    assert queue.status(first) == "completed"
    assert queue.result_ids(first) == IDS
    assert queue.claimed("a") == [first]
    assert queue.status(second) == "pending"
    assert (second, "queued") in queue.queued()


def test_a_killed_workers_run_is_finished_by_another_with_no_batch_twice(queue: Queue) -> None:
    run_id = queue.submitted()
    killed = queue.start_worker("a", "--store", queue.store, "--stall-after", "2")
    assert queue.wait_for(lambda: queue.batches_created() >= 1, within_s=20)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    assert queue.status(run_id) == "running"

    queue.start_worker("b", "--store", queue.store, "--stall-after", "2")

    assert queue.wait_for(lambda: queue.status(run_id) == "completed", within_s=40), queue.said("b")
    assert queue.claimed("b") == [run_id], queue.said("b")
    assert queue.result_ids(run_id) == IDS
    assert queue.batches_created() == CHUNKS
    print(queue.said("b"))


def test_a_worker_that_cannot_drive_a_run_says_why_in_one_line_and_queues_it_again(
    queue: Queue,
) -> None:
    run_id = queue.submitted()
    queue.start_worker("a", "--store", queue.store, unset=("OPENAI_API_KEY",))

    assert queue.wait_for(lambda: "retrying" in queue.said("a"), within_s=20)
    said = queue.said("a")
    assert f"{run_id}: OPENAI_API_KEY is not set" in said
    assert said.splitlines()[-1].endswith("; retrying in 60s")
    assert "Traceback" not in said
    assert queue.wait_for(lambda: queue.queued() == [(run_id, "queued")], within_s=10)
    assert queue.status(run_id) == "pending"
    assert queue.batches_created() == 0


def test_a_worker_takes_only_runs_of_the_providers_it_serves(queue: Queue) -> None:
    run_id = queue.submitted(workload=queue.small)
    queue.start_worker("voyage", "--store", queue.store, "--providers", "voyage")
    assert "ready for voyage" in queue.said("voyage")

    assert not queue.wait_for(lambda: queue.claimed("voyage") != [], within_s=4)
    assert (run_id, "queued") in queue.queued()

    queue.start_worker("openai", "--store", queue.store, "--providers", "openai,voyage")
    assert queue.wait_for(lambda: queue.status(run_id) == "completed", within_s=30)
    assert queue.claimed("openai") == [run_id]
    assert queue.claimed("voyage") == []
