"""A LangGraph retry of a real node resumes its jobs: the batch in flight is never submitted twice.

The failure is injected where it hurts most: right after infer-atoms' batch is created and linked,
the next event emit raises `ConnectionError` (a lost worker, say), which ends the node's call.
LangGraph's `RetryPolicy` then calls the node again; the adapter hands it the same run id, so the
node finds its job by fingerprint and follows the existing batch to the end.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from batchery.events import BatchSubmitted, RunEvent
from batchery.progress import ProgressBus
from batchery_infer_atoms import InferAtomsReport, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_verify import VerifyReport
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from .conftest import BootFactory


class State(TypedDict, total=False):
    items: list[dict[str, str]]
    atoms: list[Any]
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[Any]
    rejected_atoms: list[Any]
    unscored_atoms: list[Any]
    verify_report: VerifyReport


def _fail_once_after_the_first_batch(monkeypatch: pytest.MonkeyPatch, bus: ProgressBus) -> None:
    emit = bus.emit
    failed: list[RunEvent] = []

    async def emit_then_fail(run_id: str, make: Any, **fields: Any) -> RunEvent:
        event = await emit(run_id, make, **fields)
        if make is BatchSubmitted and not failed:
            failed.append(event)
            raise ConnectionError("the worker lost its connection after the batch was created")
        return event

    monkeypatch.setattr(bus, "emit", emit_then_fail)


async def test_a_retried_node_follows_its_batch_instead_of_submitting_again(
    boot: BootFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with boot(nodes=["infer-atoms", "verify"]) as booted:
        _fail_once_after_the_first_batch(monkeypatch, booted.bus)
        builder = StateGraph(State)
        retry = RetryPolicy(initial_interval=0.01, jitter=False, max_attempts=2)
        for name in ("infer-atoms", "verify"):
            node = as_langgraph_node(await booted.app.get(f"{name}.node"), booted.bus)
            builder.add_node(node, retry_policy=retry)
        builder.add_edge(START, "infer-atoms")
        builder.add_edge("infer-atoms", "verify")
        builder.add_edge("verify", END)
        chunks = [
            chunk
            async for chunk in builder.compile().astream(
                {"items": load_samples(24)}, stream_mode="custom"
            )
        ]
        batches = booted.emulator.batches()

    infer_started = [
        c for c in chunks if c["type"] == "node_started" and c["node"] == "infer-atoms"
    ]
    assert len(infer_started) == 2
    assert infer_started[0]["run_id"] == infer_started[1]["run_id"]
    assert [b.request_counts.total for b in batches][:1] == [24]
    assert len(batches) == 2
    finished = [c for c in chunks if c["type"] == "node_finished"]
    assert [c["node"] for c in finished] == ["infer-atoms", "verify"]
    assert finished[0]["items"] == 24
    assert finished[0]["failed_items"] == []
