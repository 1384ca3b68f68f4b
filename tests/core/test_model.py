"""The model's state machines and wire shapes."""

from __future__ import annotations

import msgspec
import pytest
from batchery.model import BatchStatus, JobStatus, LlmRequest, LlmResult, Message, Mode, Usage


@pytest.mark.parametrize(
    ("start", "allowed"),
    [
        (JobStatus.PENDING, {JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.CANCELLED}),
        (JobStatus.RUNNING, {JobStatus.COMPLETED, JobStatus.CANCELLING}),
        (JobStatus.CANCELLING, {JobStatus.CANCELLED}),
        (JobStatus.COMPLETED, set()),
        (JobStatus.CANCELLED, set()),
    ],
)
def test_job_status_transitions(start: JobStatus, allowed: set[JobStatus]) -> None:
    assert {s for s in JobStatus if start.can_become(s)} == allowed
    assert start.terminal == (not allowed)


def test_batch_terminal_states_are_the_four_ends() -> None:
    assert {s for s in BatchStatus if s.terminal} == {
        BatchStatus.COMPLETED,
        BatchStatus.EXPIRED,
        BatchStatus.CANCELLED,
        BatchStatus.FAILED,
    }


def test_requests_and_results_round_trip_without_noise() -> None:
    request = LlmRequest(custom_id="a", messages=(Message("user", "hi"),), max_tokens=5)
    result = LlmResult(
        custom_id="a", ok=True, provider="openai", mode=Mode.BATCH, text="yo", usage=Usage(3, 1)
    )

    assert msgspec.json.encode(request) == (
        b'{"custom_id":"a","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'
    )
    assert msgspec.json.decode(msgspec.json.encode(request), type=LlmRequest) == request
    assert msgspec.json.decode(msgspec.json.encode(result), type=LlmResult) == result


def test_usage_adds_up() -> None:
    assert Usage(1, 2, 3) + Usage(10, 20, 30) == Usage(11, 22, 33)
