"""Damaged answers over real HTTP: recovered in place, or asked again, never dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchery.answers import CODE_FENCE, SURROUNDING_PROSE, AnswerError, parse_answer
from batchery.events import ItemRetried, ModeChosen, NodeFinished
from batchery.model import LlmRequest
from batchery_infer_atoms import InferAtomsReport, InferAtomsSettings

from ..conftest import Nodes, NodesFactory, sample_items


async def unparsable(n: Nodes, job_id: str) -> set[str]:
    """The ids of the job's answers that the parser cannot turn into a valid answer."""
    schema = (await n.requests(job_id))[0].response_schema
    assert schema is not None
    failed: set[str] = set()
    for result in await n.results(job_id):
        try:
            parse_answer(result.text, schema)
        except AnswerError:
            failed.add(result.custom_id)
    return failed


def user_text(request: LlmRequest) -> str:
    return request.messages[-1].content


async def test_fenced_and_wrapped_answers_are_recovered_without_asking_again(
    nodes: NodesFactory,
) -> None:
    items = sample_items(12)
    async with nodes() as clean:
        expected = (await clean.run("infer-atoms", {"items": items}))["atoms"]
    async with nodes(faults="fenced_json=0.5,prose_json=0.5") as n:
        update = await n.run("infer-atoms", {"items": items})
    report: InferAtomsReport = update["infer_atoms_report"]

    assert update["atoms"] == expected
    assert report["retried"] == 0
    assert len(report["jobs"]) == 1
    repairs = {r for done in report["repaired"].values() for r in done}
    assert repairs == {CODE_FENCE, SURROUNDING_PROSE}
    assert 0 < len(report["repaired"]) < len(items)


@pytest.mark.parametrize("mode", ["batch", "realtime"])
async def test_only_the_unparsable_answers_are_asked_again(nodes: NodesFactory, mode: str) -> None:
    items = sample_items(24)
    settings = InferAtomsSettings(mode="batch" if mode == "batch" else "realtime")
    async with nodes(
        faults="truncated_json=0.5", overrides={"infer-atoms.settings": settings}
    ) as n:
        update = await n.run("infer-atoms", {"items": items})
        report: InferAtomsReport = update["infer_atoms_report"]
        first, retry = report["jobs"][0], report["jobs"][1]
        damaged = await unparsable(n, first)
        asked_again = await n.requests(retry)
        originals = {r.custom_id: r for r in await n.requests(first)}

    assert 0 < len(damaged) < len(items)
    assert {r.custom_id for r in asked_again} == damaged
    assert report["retried"] >= len(damaged)
    for request in asked_again:
        original = originals[request.custom_id]
        assert user_text(request).startswith(user_text(original) + "\n\nThis is attempt 2.")
        assert "cut short" in user_text(request)
        assert request.messages[0] == original.messages[0]
    retried_events = [e for e in n.events if isinstance(e, ItemRetried)]
    first_round = [e for e in retried_events if e.attempt == 2]
    assert {e.custom_id for e in first_round} == damaged
    assert {e.run_id for e in retried_events} == {report["run_id"]}
    failed = {f["id"] for f in report["failed"]}
    assert failed <= damaged
    assert {a["item_id"] for a in update["atoms"]} == {i["id"] for i in items} - failed


async def test_an_item_that_stays_damaged_is_reported_not_dropped(nodes: NodesFactory) -> None:
    items = sample_items(16)
    settings = InferAtomsSettings(max_parse_retries=1)
    async with nodes(faults="truncated_json=1", overrides={"infer-atoms.settings": settings}) as n:
        update = await n.run("infer-atoms", {"items": items})
    report: InferAtomsReport = update["infer_atoms_report"]
    finished = n.events[-1]

    assert report["failed"]
    for failure in report["failed"]:
        assert failure["attempts"] == 2
        assert "cut short" in failure["reason"]
    failed = [f["id"] for f in report["failed"]]
    produced = {a["item_id"] for a in update["atoms"]}
    assert not produced & set(failed)
    assert produced | set(failed) == {i["id"] for i in items}
    assert len(report["jobs"]) == 2
    assert isinstance(finished, NodeFinished)
    assert finished.failed_items == failed
    assert finished.retried == report["retried"]


async def test_retries_bypass_the_result_cache(nodes: NodesFactory, tmp_path: Path) -> None:
    items = sample_items(8)
    store = tmp_path / "shared.db"
    async with nodes(faults="truncated_json=0.5", store=store) as n:
        first = (await n.run("infer-atoms", {"items": items}))["infer_atoms_report"]
        answered = sum(r.ok for r in await n.results(first["jobs"][0]))
        port = int(n.emulator.base_url.rsplit(":", 1)[1].split("/")[0])
    async with nodes(faults="truncated_json=0.5", store=store, port=port) as n:
        again = (await n.run("infer-atoms", {"items": items}))["infer_atoms_report"]
        retry_results = await n.results(again["jobs"][1])
    chosen = {e.run_id: e for e in n.events if isinstance(e, ModeChosen)}

    assert first["retried"] == again["retried"] > 0
    assert chosen[again["jobs"][0]].cached == answered < len(items)
    assert chosen[again["jobs"][1]].cached == 0
    assert not any(r.cached for r in retry_results)
    assert again["cost_usd"] > 0


async def test_with_no_parse_retries_damaged_items_fail_after_one_attempt(
    nodes: NodesFactory,
) -> None:
    settings = InferAtomsSettings(max_parse_retries=0)
    async with nodes(faults="truncated_json=1", overrides={"infer-atoms.settings": settings}) as n:
        report = (await n.run("infer-atoms", {"items": sample_items(10)}))["infer_atoms_report"]

    assert report["failed"]
    assert len(report["jobs"]) == 1
    assert report["retried"] == 0
    assert {f["attempts"] for f in report["failed"]} == {1}


async def test_an_item_the_provider_fails_is_reported_and_not_asked_again(
    nodes: NodesFactory,
) -> None:
    async with nodes(faults="http_500=1", max_attempts=1) as n:
        update = await n.run("infer-atoms", {"items": sample_items(3)})
    report: InferAtomsReport = update["infer_atoms_report"]

    assert update["atoms"] == []
    assert [f["id"] for f in report["failed"]] == ["R-0", "R-1", "R-2"]
    assert all(f["reason"].startswith("the provider gave no answer") for f in report["failed"])
    assert report["retried"] == 0
    assert len(report["jobs"]) == 1
