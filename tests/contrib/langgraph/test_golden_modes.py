"""Golden: one fixture through batch mode and through realtime mode keeps the same atoms and scores.

The fixture is the 48 sample items `batchery_infer_atoms` ships, run through infer-atoms → verify
as a LangGraph graph. The emulator's answers are a pure function of the request, so the mode
must not show in anything the pipeline keeps. Each mode gets its own emulator and store, so
neither reads the other's result cache. Content faults (fenced, wrapped and cut-off JSON) hit
the same answers in both modes, which puts answer repair and the re-ask round inside the
comparison; transport faults differ by mode (shuffled and duplicated batch output lines; 429s
and 500s on realtime calls) and must change nothing.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import pytest
from batchery_infer_atoms import InferAtomsReport, InferAtomsSettings, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_verify import VerifyReport, VerifySettings
from langgraph.graph import END, START, StateGraph

from .conftest import BootFactory

FIXTURE = load_samples()
CONTENT_FAULTS = "fenced_json=0.1,prose_json=0.1,truncated_json=0.05"
TRANSPORT_FAULTS = {
    "batch": "shuffle,duplicate=0.1",
    "realtime": "http_429=0.02,retry_after=0,http_500=0.02",
}
KEPT = ("atoms", "verified_atoms", "rejected_atoms", "unscored_atoms")


class State(TypedDict, total=False):
    items: list[dict[str, str]]
    atoms: list[Any]
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[Any]
    rejected_atoms: list[Any]
    unscored_atoms: list[Any]
    verify_report: VerifyReport


async def _pipeline(
    boot: BootFactory, mode: Literal["batch", "realtime"]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The final state and the custom stream of one run of the graph in `mode`."""
    overrides = {
        "infer-atoms.settings": InferAtomsSettings(mode=mode),
        "verify.settings": VerifySettings(mode=mode),
    }
    async with boot(
        store=f"{mode}.db",
        nodes=["infer-atoms", "verify"],
        overrides=overrides,
        faults=f"{CONTENT_FAULTS},{TRANSPORT_FAULTS[mode]}",
    ) as booted:
        builder = StateGraph(State)
        for name in ("infer-atoms", "verify"):
            builder.add_node(as_langgraph_node(await booted.app.get(f"{name}.node"), booted.bus))
        builder.add_edge(START, "infer-atoms")
        builder.add_edge("infer-atoms", "verify")
        builder.add_edge("verify", END)
        parts = [
            part
            async for part in builder.compile().astream(
                {"items": FIXTURE}, stream_mode=["custom", "values"], version="v2"
            )
        ]
    events = [part["data"] for part in parts if part["type"] == "custom"]
    final = [part["data"] for part in parts if part["type"] == "values"][-1]
    return final, events


def _outcome(report: InferAtomsReport | VerifyReport) -> dict[str, Any]:
    """A report without what names the run or prices it, which differ by mode by design."""
    fields = dict(report)
    for key in ("run_id", "jobs", "modes", "cost_usd", "realtime_cost_usd", "savings_usd"):
        del fields[key]
    return fields


async def test_batch_and_realtime_keep_the_same_atoms_and_scores(boot: BootFactory) -> None:
    batch, batch_events = await _pipeline(boot, "batch")
    realtime, realtime_events = await _pipeline(boot, "realtime")

    for events, mode in ((batch_events, "batch"), (realtime_events, "realtime")):
        chosen = {e["mode"] for e in events if e["type"] == "mode_chosen"}
        assert chosen == {mode}
        assert [e["node"] for e in events if e["type"] == "node_finished"] == [
            "infer-atoms",
            "verify",
        ]
    assert any(e["type"] == "batch_submitted" for e in batch_events)
    assert not any(e["type"] == "batch_submitted" for e in realtime_events)

    assert len(batch["atoms"]) > len(FIXTURE)
    assert batch["verified_atoms"]
    assert batch["rejected_atoms"]
    for key in KEPT:
        assert batch[key] == realtime[key], key
    for key in ("infer_atoms_report", "verify_report"):
        assert _outcome(batch[key]) == _outcome(realtime[key]), key

    infer, verify = batch["infer_atoms_report"], batch["verify_report"]
    assert infer["repaired"] or verify["repaired"]
    assert infer["retried"] + verify["retried"] > 0
    for key in ("infer_atoms_report", "verify_report"):
        assert batch[key]["realtime_cost_usd"] == pytest.approx(realtime[key]["cost_usd"], abs=1e-7)
        assert batch[key]["cost_usd"] == pytest.approx(realtime[key]["cost_usd"] / 2, abs=1e-7)
