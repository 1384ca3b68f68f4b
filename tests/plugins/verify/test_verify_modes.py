"""verify end to end on the OpenAI emulator: mode choice, determinism, sources, events, wiring."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from batchery.events import JobEvent, ModeChosen, NodeFinished, NodeStarted, RunFinished
from batchery.model import Mode
from batchery.nodes import GraphNode, discover_nodes
from batchery_infer_atoms import Atom
from batchery_verify import INFO, VERDICTS, ScoredAtom, VerifyModule, VerifyReport, VerifySettings

from ..conftest import NodesFactory


def atoms(count: int) -> list[dict[str, Any]]:
    """`count` atoms as mappings, two per item, the way infer-atoms numbers them."""
    return [
        {
            "id": f"I-{i // 2}#{i % 2 + 1}",
            "item_id": f"I-{i // 2}",
            "statement": f"An order of {i + 1} items ships within {i % 4 + 1} days.",
            "category": "functional",
            "confidence": 0.5,
        }
        for i in range(count)
    ]


def scores(update: dict[str, Any]) -> dict[str, tuple[int, str, tuple[str, ...]]]:
    scored: list[ScoredAtom] = update["verified_atoms"] + update["rejected_atoms"]
    return {s["id"]: (s["score"], s["verdict"], s["reasons"]) for s in scored}


@pytest.mark.parametrize(("count", "mode"), [(6, Mode.REALTIME), (22, Mode.BATCH)])
async def test_the_policy_runs_small_sets_realtime_and_large_ones_batch(
    nodes: NodesFactory, count: int, mode: Mode
) -> None:
    async with nodes() as n:
        update = await n.run("verify", {"atoms": atoms(count)})
        report: VerifyReport = update["verify_report"]
        job = await n.service.store.get_job(report["jobs"][0])

    assert set(update) == {"verified_atoms", "rejected_atoms", "unscored_atoms", "verify_report"}
    assert job is not None
    assert job.mode is mode
    found = scores(update)
    assert len(found) == count == report["atoms"] == report["verified"] + report["rejected"]
    for score, verdict, reasons in found.values():
        assert 0 <= score <= 100
        assert verdict in VERDICTS
        assert 1 <= len(reasons) <= 3
        assert all(r.strip() for r in reasons)
    assert update["unscored_atoms"] == []
    assert report["cost_usd"] > 0


@pytest.mark.parametrize(("count", "forced"), [(2, "batch"), (21, "realtime")])
async def test_the_settings_can_force_either_mode(
    nodes: NodesFactory, count: int, forced: Literal["batch", "realtime"]
) -> None:
    settings = VerifySettings(mode=forced)
    async with nodes(overrides={"verify.settings": settings}) as n:
        report = (await n.run("verify", {"atoms": atoms(count)}))["verify_report"]
        job = await n.service.store.get_job(report["jobs"][0])

    assert job is not None
    assert job.mode == forced


async def test_batch_and_realtime_give_the_same_scores(nodes: NodesFactory) -> None:
    found = {}
    modes: tuple[Literal["batch", "realtime"], ...] = ("batch", "realtime")
    for mode in modes:
        settings = VerifySettings(mode=mode)
        async with nodes(overrides={"verify.settings": settings}) as n:
            update = await n.run("verify", {"atoms": atoms(22)})
        found[mode] = (update["verified_atoms"], update["rejected_atoms"])

    assert found["batch"] == found["realtime"]


async def test_infer_atoms_atoms_and_plain_mappings_score_alike(nodes: NodesFactory) -> None:
    given = atoms(4)
    structs = [Atom(**a) for a in given]
    async with nodes() as n:
        from_mappings = await n.run("verify", {"atoms": given})
        from_structs = await n.run("verify", {"atoms": structs})

    assert scores(from_mappings) == scores(from_structs)
    [first, *_] = from_structs["verified_atoms"] + from_structs["rejected_atoms"]
    assert (first["item_id"], first["category"], first["confidence"]) == ("I-0", "functional", 0.5)


async def test_the_source_item_is_shown_when_the_state_has_items(nodes: NodesFactory) -> None:
    state = {
        "atoms": atoms(3),
        "items": [{"id": "I-0", "text": "Orders ship fast."}, {"id": "I-9", "text": "unused"}],
    }
    async with nodes() as n:
        report = (await n.run("verify", state))["verify_report"]
        requests = {r.custom_id: r for r in await n.requests(report["jobs"][0])}

    assert requests["I-0#1"].messages[-1].content == (
        "Atom (functional): An order of 1 items ships within 1 days.\n\nSource: Orders ship fast."
    )
    assert requests["I-1#1"].messages[-1].content.endswith("Source: (not given)")
    assert "faithful" in requests["I-0#1"].messages[0].content


async def test_events_tie_the_node_and_its_jobs_to_one_run_id(nodes: NodesFactory) -> None:
    async with nodes() as n:
        update = await n.run("verify", {"atoms": atoms(5), "run_id": "graph-9"})
    report: VerifyReport = update["verify_report"]
    seen = [e for e in n.events if e.run_id.startswith(report["run_id"])]
    events = [e for e in seen if not isinstance(e, JobEvent)]
    repeats = [e for e in seen if isinstance(e, JobEvent)]

    assert report["run_id"] == "graph-9-verify"
    started, *job_events, finished = events
    assert isinstance(started, NodeStarted)
    assert (started.node, started.items) == ("verify", 5)
    assert isinstance(finished, NodeFinished)
    assert (finished.node, finished.items, finished.produced) == ("verify", 5, 5)
    assert finished.cost_usd == report["cost_usd"]
    assert {e.run_id for e in job_events} == {f"{report['run_id']}-1"}
    assert isinstance(job_events[0], ModeChosen)
    assert isinstance(job_events[-1], RunFinished)
    assert [e.event for e in repeats] == job_events
    assert all(e.run_id == report["run_id"] for e in repeats)


async def test_the_plugin_is_discovered_and_is_a_graph_node(nodes: NodesFactory) -> None:
    [entry] = [e for e in discover_nodes() if e.name == "verify"]
    assert entry.module is VerifyModule
    assert VerifyModule.INFO is INFO
    assert INFO.reads == ("atoms", "items", "run_id", "deadline_at")
    assert INFO.writes == ("verified_atoms", "rejected_atoms", "unscored_atoms", "verify_report")
    async with nodes(names=["verify"]) as n:
        node = await n.node("verify")
    assert isinstance(node, GraphNode)
    assert node.info is INFO


async def test_a_call_repeated_under_its_run_id_resumes_instead_of_sending_again(
    nodes: NodesFactory,
) -> None:
    state = {"atoms": atoms(22), "run_id": "task-5"}
    async with nodes(names=["verify"]) as n:
        first = await n.run("verify", state)
        second = await n.run("verify", state)
        await n.emulator.refresh()
        batches = n.emulator.batches()

    assert second == first
    assert first["verify_report"]["jobs"] == ["task-5-verify-1"]
    assert len(batches) == 1
