"""A graph of Batchery nodes compiled with each LangGraph checkpointer, default serializers.

What the nodes write into state must survive a checkpointer's serializer and JSON unchanged:
a graph that ran every node and then failed on `Type is not msgpack serializable: Atom` is the
case these guard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchery.progress import ProgressBus

from .checkpointed_graph import build_graph, comparable, open_saver
from .conftest import BootFactory

SaverSpec = Callable[[Path, str], str]
SAVERS: dict[str, SaverSpec] = {
    "memory": lambda tmp, pg: "memory",
    "sqlite": lambda tmp, pg: f"sqlite:{tmp / 'checkpoints.db'}",
    "postgres": lambda tmp, pg: f"postgres:{pg}",
}


@pytest.fixture(params=sorted(SAVERS))
def saver_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    make = SAVERS[request.param]
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    return make(tmp_path, postgres)


async def _run(boot: BootFactory, spec: str, thread: str) -> tuple[dict[str, Any], list[Any], Any]:
    async with (
        boot(nodes=["infer-atoms", "verify"], store=f"{thread}.db") as booted,
        open_saver(spec) as saver,
    ):
        graph = build_graph(
            await booted.app.get("infer-atoms.node"),
            await booted.app.get("verify.node"),
            booted.service.bus,
            saver,
        )
        config: Any = {"configurable": {"thread_id": thread}}
        updates = [
            part async for part in graph.astream({"count": 24}, config, stream_mode="updates")
        ]
        kept = await graph.aget_state(config)
        return kept.values, updates, booted.bus


async def test_the_graph_runs_to_the_end_and_its_state_is_kept(
    boot: BootFactory, saver_spec: str
) -> None:
    state, updates, bus = await _run(boot, saver_spec, "thread-kept")

    assert isinstance(bus, ProgressBus)
    assert [next(iter(u)) for u in updates] == ["draft", "infer-atoms", "verify", "report"]
    assert json.loads(json.dumps(updates)) == updates
    assert json.loads(json.dumps(state)) == state
    assert len(state["atoms"]) >= 24
    assert state["summary"]["kept"] == [a["id"] for a in state["verified_atoms"]]
    assert state["infer_atoms_report"]["failed"] == []
    assert [m["mode"] for m in state["infer_atoms_report"]["modes"]] == ["batch"]


async def test_every_checkpointer_keeps_the_same_final_state(
    boot: BootFactory, saver_spec: str
) -> None:
    memory, _, _ = await _run(boot, "memory", "thread-a")
    kept, _, _ = await _run(boot, saver_spec, "thread-b")

    assert comparable(kept) == comparable(memory)
