"""One deadline for a whole graph run: every node takes what is left of it.

Both nodes' batches stall halfway (the emulator's `batch_expire`), so only the deadline ends
them. The poll interval backs off as in production (0.5 s doubling up to a minute), which is
what made a fallback start after the deadline when the runner woke only on its schedule.
"""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any, TypedDict

import pytest
from batchery_infer_atoms import Atom, InferAtomsReport, InferAtomsSettings, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_verify import ScoredAtom, VerifyReport, VerifySettings
from langgraph.graph import END, START, StateGraph

from .conftest import BootFactory

DEADLINE_S = 10.0


class State(TypedDict, total=False):
    items: list[dict[str, str]]
    atoms: list[Atom]
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[ScoredAtom]
    rejected_atoms: list[ScoredAtom]
    unscored_atoms: list[dict[str, Any]]
    verify_report: VerifyReport


async def test_both_nodes_share_the_graph_deadline_and_fall_back_before_it(
    boot: BootFactory,
) -> None:
    async with boot(
        nodes=["infer-atoms", "verify"],
        faults="batch_expire",
        overrides={
            "infer-atoms.settings": InferAtomsSettings(mode="batch"),
            "verify.settings": VerifySettings(mode="batch"),
        },
        poll_interval_s=0.5,
        poll_backoff=2.0,
        poll_max_interval_s=60.0,
    ) as booted:
        builder = StateGraph(State)
        for name in ("infer-atoms", "verify"):
            builder.add_node(as_langgraph_node(await booted.app.get(f"{name}.node"), booted.bus))
        builder.add_edge(START, "infer-atoms")
        builder.add_edge("infer-atoms", "verify")
        builder.add_edge("verify", END)
        deadline_at = time.time() + DEADLINE_S
        events: list[dict[str, Any]] = [
            chunk
            async for chunk in builder.compile().astream(
                {"items": load_samples(24)},
                {"configurable": {"deadline_at": deadline_at}},
                stream_mode="custom",
            )
        ]
        jobs = [
            await booted.service.store.get_job(e["run_id"])
            for e in events
            if e["type"] == "run_started"
        ]

    finished = [e for e in events if e["type"] == "node_finished"]
    assert [e["node"] for e in finished] == ["infer-atoms", "verify"]
    assert [e["deadline_at"] for e in finished] == [deadline_at, deadline_at]
    for job in jobs:
        assert job is not None
        assert job.deadline_at is not None
        assert abs(job.deadline_at - deadline_at) < 0.5, "a node took a deadline of its own"

    fallbacks = [e for e in events if e["type"] == "fallback_started"]
    assert len(fallbacks) == 2
    assert all(e["ts"] < deadline_at for e in fallbacks), "the fallback started too late"

    for e in finished:
        late = e["ts"] - deadline_at
        if late > 0.05:
            assert e["overrun_s"] == pytest.approx(late, abs=0.05), "an overrun went unreported"
        elif late < -0.05:
            assert e["overrun_s"] is None
        [mode] = e["modes"]
        assert mode["mode"] == "batch"
        assert mode["fallback"] is not None
        assert mode["results"].get("realtime", 0) > 0
        assert sum(mode["results"].values()) == e["items"]

    progress = [e for e in events if e["type"] == "progress"]
    for run_id in {e["run_id"] for e in progress}:
        reported = [e for e in progress if e["run_id"] == run_id]
        completed = [e["completed"] for e in reported]
        assert all(a <= b for a, b in pairwise(completed)), completed
        assert completed[-1] == reported[-1]["total"]
        assert max(e["completed"] for e in reported if e["phase"] != "realtime") > 0
