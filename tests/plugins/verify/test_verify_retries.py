"""verify with damaged answers: recovered in place, or asked again; unscored atoms come back."""

from __future__ import annotations

from typing import Any

from batchery.answers import CODE_FENCE, SURROUNDING_PROSE, AnswerError, parse_answer
from batchery.events import ItemRetried, NodeFinished
from batchery_infer_atoms import Atom
from batchery_verify import VerifyReport, VerifySettings

from ..conftest import Nodes, NodesFactory


def make_atoms(count: int) -> list[Atom]:
    return [
        Atom(
            id=f"I-{i}#1",
            item_id=f"I-{i}",
            statement=f"A refund of {i + 1} EUR is paid within {i % 3 + 1} days.",
            category="functional",
            confidence=0.8,
        )
        for i in range(count)
    ]


async def unparsable(n: Nodes, job_id: str) -> set[str]:
    schema = (await n.requests(job_id))[0].response_schema
    assert schema is not None
    failed: set[str] = set()
    for result in await n.results(job_id):
        try:
            parse_answer(result.text, schema)
        except AnswerError:
            failed.add(result.custom_id)
    return failed


async def test_fenced_and_wrapped_answers_are_recovered_without_asking_again(
    nodes: NodesFactory,
) -> None:
    given = make_atoms(12)
    async with nodes(names=["verify"]) as clean:
        expected = (await clean.run("verify", {"atoms": given}))["verified_atoms"]
    async with nodes(names=["verify"], faults="fenced_json=0.5,prose_json=0.5") as n:
        update = await n.run("verify", {"atoms": given})
    report: VerifyReport = update["verify_report"]

    assert update["verified_atoms"] == expected
    assert report["retried"] == 0
    assert {r for done in report["repaired"].values() for r in done} == {
        CODE_FENCE,
        SURROUNDING_PROSE,
    }


async def test_only_unparsable_answers_are_asked_again_and_unscored_atoms_come_back(
    nodes: NodesFactory,
) -> None:
    given = make_atoms(16)
    settings = VerifySettings(max_parse_retries=1, score_only=True)
    async with nodes(
        names=["verify"], faults="truncated_json=0.7", overrides={"verify.settings": settings}
    ) as n:
        update = await n.run("verify", {"atoms": given})
        report: VerifyReport = update["verify_report"]
        damaged = await unparsable(n, report["jobs"][0])
        asked_again = {r.custom_id for r in await n.requests(report["jobs"][1])}

    assert 0 < len(damaged) < len(given)
    assert asked_again == damaged
    retried = [e for e in n.events if isinstance(e, ItemRetried)]
    assert {(e.custom_id, e.attempt, e.run_id) for e in retried} == {
        (atom_id, 2, report["run_id"]) for atom_id in damaged
    }
    assert report["failed"]
    failed = [f["id"] for f in report["failed"]]
    assert set(failed) <= damaged
    assert all(f["attempts"] == 2 for f in report["failed"])
    unscored: list[Any] = update["unscored_atoms"]
    assert [a["id"] for a in unscored] == failed
    assert unscored == [g for g in given if g["id"] in failed]
    kept = {s["id"] for s in update["verified_atoms"]}
    assert kept | set(failed) == {a["id"] for a in given}
    assert not kept & set(failed)
    finished = n.events[-1]
    assert isinstance(finished, NodeFinished)
    assert finished.failed_items == failed
    assert finished.produced == len(kept)
