"""Batchery's events reach `astream_events(version="v2")` as LangChain custom events."""

from __future__ import annotations

from typing import Any, TypedDict

from batchery.events import JobEvent, decode_event
from batchery_infer_atoms import Atom, InferAtomsReport, load_samples
from batchery_langgraph import CUSTOM_EVENT_PREFIX, as_langgraph_node
from langgraph.graph import END, START, StateGraph

from .conftest import BootFactory


class State(TypedDict, total=False):
    items: list[dict[str, str]]
    atoms: list[Atom]
    infer_atoms_report: InferAtomsReport


async def test_every_event_of_the_node_run_is_a_custom_event_in_order(boot: BootFactory) -> None:
    async with boot(nodes=["infer-atoms"]) as booted:
        builder = StateGraph(State)
        builder.add_node(as_langgraph_node(await booted.app.get("infer-atoms.node"), booted.bus))
        builder.add_edge(START, "infer-atoms")
        builder.add_edge("infer-atoms", END)
        custom: list[dict[str, Any]] = [
            event
            async for event in builder.compile().astream_events(
                {"items": load_samples(6)}, version="v2"
            )
            if event["event"] == "on_custom_event"
        ]
        node_run = custom[0]["data"]["run_id"]
        logged = [
            event
            for run_id in dict.fromkeys(e["data"]["run_id"] for e in custom)
            for _, body in await booted.service.store.events(run_id)
            if not isinstance(event := decode_event(body), JobEvent)
        ]

    assert node_run.startswith("lg-")
    assert [e["name"] for e in custom] == [CUSTOM_EVENT_PREFIX + e["data"]["type"] for e in custom]
    assert custom[0]["name"] == "batchery.node_started"
    assert custom[-1]["name"] == "batchery.node_finished"
    assert "batchery.run_finished" in {e["name"] for e in custom}
    assert sorted((e["data"]["run_id"], e["data"]["seq"]) for e in custom) == sorted(
        (e.run_id, e.seq) for e in logged
    )
    assert all(e["data"]["run_id"].startswith(node_run) for e in custom)
