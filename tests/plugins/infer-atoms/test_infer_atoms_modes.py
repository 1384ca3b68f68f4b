"""infer-atoms end to end on the OpenAI emulator: mode choice, determinism, events, wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import msgspec
import pytest
from batchery.app import BatcheryModule
from batchery.events import (
    BatchSubmitted,
    JobEvent,
    ModeChosen,
    NodeFinished,
    NodeStarted,
    RunFinished,
)
from batchery.model import Mode
from batchery.modules import Application
from batchery.nodes import GraphNode, discover_nodes
from batchery.service import BatchLlmService
from batchery.spi import EmulatorOptions
from batchery_infer_atoms import (
    DEFAULT_CATEGORIES,
    INFO,
    Atom,
    InferAtomsModule,
    InferAtomsReport,
    InferAtomsSettings,
)
from batchery_openai import OpenAIModule
from batchery_openai.emulator import OpenAIEmulator

from ..conftest import API_KEY, FAST, NodesFactory, sample_items


def check_atoms(atoms: list[Atom], item_ids: list[str], max_atoms: int = 8) -> None:
    """Every item has 1..max atoms, numbered `{item}#1..n` in item order, with sane fields."""
    by_item: dict[str, list[Atom]] = {}
    for atom in atoms:
        by_item.setdefault(atom["item_id"], []).append(atom)
    assert list(by_item) == item_ids
    for item_id, found in by_item.items():
        assert 1 <= len(found) <= max_atoms
        assert [a["id"] for a in found] == [f"{item_id}#{n}" for n in range(1, len(found) + 1)]
    for atom in atoms:
        assert atom["statement"].strip()
        assert atom["category"] in DEFAULT_CATEGORIES
        assert 0.0 <= atom["confidence"] <= 1.0


@pytest.mark.parametrize(("count", "mode"), [(5, Mode.REALTIME), (24, Mode.BATCH)])
async def test_the_policy_runs_small_sets_realtime_and_large_ones_batch(
    nodes: NodesFactory, count: int, mode: Mode
) -> None:
    items = sample_items(count)
    async with nodes() as n:
        update = await n.run("infer-atoms", {"items": items})
        report: InferAtomsReport = update["infer_atoms_report"]
        [job_id] = report["jobs"]
        job = await n.service.store.get_job(job_id)

    assert set(update) == {"atoms", "infer_atoms_report"}
    assert job is not None
    assert job.mode is mode
    assert "batch threshold 20" in (job.reason or "")
    check_atoms(update["atoms"], [item["id"] for item in items])
    assert report["items"] == count
    assert report["atoms"] == len(update["atoms"])
    assert report["failed"] == []
    assert report["retried"] == 0
    assert report["cost_usd"] > 0
    if mode is Mode.BATCH:
        assert report["savings_usd"] == pytest.approx(report["realtime_cost_usd"] / 2)
    else:
        assert report["savings_usd"] == 0


@pytest.mark.parametrize(("count", "forced"), [(3, "batch"), (25, "realtime")])
async def test_the_settings_can_force_either_mode(
    nodes: NodesFactory, count: int, forced: Literal["batch", "realtime"]
) -> None:
    settings = InferAtomsSettings(mode=forced)
    async with nodes(overrides={"infer-atoms.settings": settings}) as n:
        update = await n.run("infer-atoms", {"items": sample_items(count)})
        [job_id] = update["infer_atoms_report"]["jobs"]
        job = await n.service.store.get_job(job_id)

    assert job is not None
    assert job.mode == forced
    assert job.reason == f"{forced} mode was requested"


async def test_batch_and_realtime_give_the_same_atoms(nodes: NodesFactory) -> None:
    items = sample_items(24)
    found: dict[str, list[Atom]] = {}
    modes: tuple[Literal["batch", "realtime"], ...] = ("batch", "realtime")
    for mode in modes:
        settings = InferAtomsSettings(mode=mode)
        async with nodes(overrides={"infer-atoms.settings": settings}) as n:
            found[mode] = (await n.run("infer-atoms", {"items": items}))["atoms"]

    assert found["batch"] == found["realtime"]
    check_atoms(found["batch"], [item["id"] for item in items])


async def test_events_tie_the_node_and_its_jobs_to_the_callers_run_id(nodes: NodesFactory) -> None:
    items = sample_items(4)
    async with nodes() as n:
        update = await n.run("infer-atoms", {"items": items, "run_id": "graph-7"})
    report: InferAtomsReport = update["infer_atoms_report"]
    run_id = report["run_id"]
    seen = [e for e in n.events if e.run_id.startswith(run_id)]
    events = [e for e in seen if not isinstance(e, JobEvent)]
    repeats = [e for e in seen if isinstance(e, JobEvent)]

    assert run_id == "graph-7-infer-atoms"
    assert seen == [e for e in n.events if e.run_id.startswith("graph-7")]
    assert isinstance(events[0], NodeStarted)
    assert (events[0].run_id, events[0].node, events[0].items) == (run_id, "infer-atoms", 4)
    finished = events[-1]
    assert isinstance(finished, NodeFinished)
    assert finished.run_id == run_id
    assert (finished.items, finished.produced, finished.failed_items) == (4, report["atoms"], [])
    assert finished.cost_usd == report["cost_usd"] > 0
    assert finished.realtime_cost_usd == report["realtime_cost_usd"]
    job_events = events[1:-1]
    assert {e.run_id for e in job_events} == {f"{run_id}-1"}
    assert isinstance(job_events[0], ModeChosen)
    assert job_events[0].mode == "realtime"
    assert isinstance(job_events[-1], RunFinished)
    assert job_events[-1].succeeded == 4
    assert {e.run_id for e in repeats} == {run_id}
    assert [e.event for e in repeats] == job_events


async def test_calls_without_a_run_id_get_distinct_run_ids(nodes: NodesFactory) -> None:
    state = {"items": sample_items(2)}
    async with nodes() as n:
        first = await n.run("infer-atoms", state)
        second = await n.run("infer-atoms", state)

    assert first["infer_atoms_report"]["run_id"] != second["infer_atoms_report"]["run_id"]
    assert first["infer_atoms_report"]["run_id"].startswith("infer-atoms-")
    assert first["atoms"] == second["atoms"]


async def test_a_call_repeated_under_its_run_id_resumes_instead_of_sending_again(
    nodes: NodesFactory,
) -> None:
    state = {"items": sample_items(24), "run_id": "task-1"}
    async with nodes(faults="truncated_json=0.3") as n:
        first = await n.run("infer-atoms", state)
        second = await n.run("infer-atoms", state)
        await n.emulator.refresh()
        batches = n.emulator.batches()

    assert second == first
    assert first["infer_atoms_report"]["retried"] > 0
    assert len(batches) == 1
    chosen = [e for e in n.events if isinstance(e, ModeChosen)]
    assert len(chosen) == len(first["infer_atoms_report"]["jobs"])


async def test_an_interrupted_call_repeated_under_its_run_id_resumes_its_batch(
    nodes: NodesFactory,
) -> None:
    state = {"items": sample_items(24), "run_id": "task-2"}
    async with nodes(time_scale=20.0) as n:
        node = await n.node("infer-atoms")
        async with n.bus.subscribe() as events:
            call = asyncio.create_task(node(state))
            while not isinstance(await events.get(), BatchSubmitted):
                pass
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
        update = await node(state)
        await n.emulator.refresh()
        batches = n.emulator.batches()

    assert len(batches) == 1
    assert update["infer_atoms_report"]["jobs"] == ["task-2-infer-atoms-1"]
    check_atoms(update["atoms"], [item["id"] for item in state["items"]])


async def test_a_run_id_already_used_for_other_items_is_refused(nodes: NodesFactory) -> None:
    async with nodes() as n:
        await n.run("infer-atoms", {"items": sample_items(2), "run_id": "task-3"})
        with pytest.raises(ValueError, match="'task-3-infer-atoms-1' already exists and was made"):
            await n.run("infer-atoms", {"items": sample_items(3), "run_id": "task-3"})


async def test_no_items_means_no_jobs_but_a_start_and_a_finish(nodes: NodesFactory) -> None:
    async with nodes() as n:
        update = await n.run("infer-atoms", {"items": []})

    assert update["atoms"] == []
    assert update["infer_atoms_report"]["jobs"] == []
    assert [type(e) for e in n.events] == [NodeStarted, NodeFinished]


async def test_for_root_settings_configure_the_node(tmp_path: Path) -> None:
    settings = msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db"))
    async with OpenAIEmulator(EmulatorOptions(time_scale=2000.0), api_key=API_KEY) as emulator:
        app = await Application.create(
            BatcheryModule.for_root(settings=settings),
            extra=[
                OpenAIModule.for_root(base_url=emulator.base_url, api_key=API_KEY),
                InferAtomsModule.for_root(mode="batch", max_atoms_per_item=1),
            ],
        )
        async with app:
            node = await app.get("infer-atoms.node")
            update = await node({"items": sample_items(3)})
            [job_id] = update["infer_atoms_report"]["jobs"]
            service = await app.get("batchery.service", BatchLlmService)
            job = await service.store.get_job(job_id)

    assert node.settings == InferAtomsSettings(mode="batch", max_atoms_per_item=1)
    assert job is not None
    assert job.mode is Mode.BATCH
    check_atoms(update["atoms"], ["R-0", "R-1", "R-2"], max_atoms=1)


async def test_the_plugin_is_discovered_and_is_a_graph_node(nodes: NodesFactory) -> None:
    [entry] = [e for e in discover_nodes() if e.name == "infer-atoms"]
    assert entry.module is InferAtomsModule
    assert InferAtomsModule.INFO is INFO
    assert INFO.reads == ("items", "run_id", "deadline_at")
    assert INFO.writes == ("atoms", "infer_atoms_report")
    async with nodes(names=["infer-atoms"]) as n:
        node = await n.node("infer-atoms")
    assert isinstance(node, GraphNode)
    assert node.info is INFO
