"""verify's pass mark and its score-don't-gate mode."""

from __future__ import annotations

from typing import Any

from batchery_verify import ScoredAtom, VerifyReport, VerifySettings

from ..conftest import NodesFactory

ATOMS = [
    {"id": f"A-{i}", "statement": f"Step {i} of checkout shows a total of {i * 3} EUR."}
    for i in range(12)
]
IDS = [a["id"] for a in ATOMS]


async def verify(nodes: NodesFactory, **settings: Any) -> dict[str, Any]:
    async with nodes(
        names=["verify"], overrides={"verify.settings": VerifySettings(**settings)}
    ) as n:
        return await n.run("verify", {"atoms": ATOMS})


async def test_the_pass_mark_splits_atoms_into_verified_and_rejected(nodes: NodesFactory) -> None:
    update = await verify(nodes, pass_mark=50)
    verified: list[ScoredAtom] = update["verified_atoms"]
    rejected: list[ScoredAtom] = update["rejected_atoms"]
    report: VerifyReport = update["verify_report"]

    assert verified
    assert rejected
    assert all(s["score"] >= 50 and s["passed"] for s in verified)
    assert all(s["score"] < 50 and not s["passed"] for s in rejected)
    assert [s["id"] for s in verified] == [i for i in IDS if i in {s["id"] for s in verified}]
    assert sorted(s["id"] for s in verified + rejected) == sorted(IDS)
    assert (report["verified"], report["rejected"], report["pass_mark"]) == (
        len(verified),
        len(rejected),
        50,
    )
    assert not report["score_only"]


async def test_moving_the_pass_mark_moves_the_split_not_the_scores(nodes: NodesFactory) -> None:
    by_mark = {}
    for mark in (0, 50, 100):
        update = await verify(nodes, pass_mark=mark)
        scored = update["verified_atoms"] + update["rejected_atoms"]
        by_mark[mark] = ({s["id"]: s["score"] for s in scored}, len(update["verified_atoms"]))

    assert by_mark[0][0] == by_mark[50][0] == by_mark[100][0]
    scores = by_mark[0][0]
    assert by_mark[0][1] == len(IDS)
    assert by_mark[50][1] == sum(score >= 50 for score in scores.values())
    assert by_mark[100][1] == sum(score == 100 for score in scores.values())


async def test_score_only_keeps_every_atom_sorted_by_score(nodes: NodesFactory) -> None:
    gated = await verify(nodes, pass_mark=50)
    update = await verify(nodes, pass_mark=50, score_only=True)
    kept: list[ScoredAtom] = update["verified_atoms"]

    assert update["rejected_atoms"] == []
    assert sorted(s["id"] for s in kept) == sorted(IDS)
    assert [s["score"] for s in kept] == sorted((s["score"] for s in kept), reverse=True)
    for score in {s["score"] for s in kept}:
        tied = [s["id"] for s in kept if s["score"] == score]
        assert tied == [i for i in IDS if i in tied]
    passed = {s["id"] for s in kept if s["passed"]}
    assert passed == {s["id"] for s in gated["verified_atoms"]}
    assert update["verify_report"]["score_only"]
    assert update["verify_report"]["rejected"] == 0
