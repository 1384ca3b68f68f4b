"""infer-atoms input: what `items` may hold, the errors that name the item and rule, samples."""

from __future__ import annotations

from typing import Any

import pytest
from batchery_infer_atoms import Item, StateError, load_samples

from ..conftest import NodesFactory

GOOD = {"id": "A-1", "text": "Sign-in locks after five failures."}


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({}, "the state has no 'items'"),
        ({"items": "A-1"}, "'items' must be a list of {id, text} items, not str"),
        ({"items": {"id": "A-1"}}, "'items' must be a list of {id, text} items, not dict"),
        ({"items": [GOOD, 7]}, r"items\[1\]: expected a mapping with 'id' and 'text', not int"),
        ({"items": [{"text": "x"}]}, r"items\[0\]: has no 'id'"),
        ({"items": [{"id": 7, "text": "x"}]}, r"items\[0\]: 'id' must be a string, not int"),
        ({"items": [{"id": "", "text": "x"}]}, r"items\[0\]: 'id' must not be empty"),
        ({"items": [{"id": " A", "text": "x"}]}, "'id' must not start or end with white space"),
        ({"items": [{"id": "A\n1", "text": "x"}]}, "'id' must not contain control characters"),
        ({"items": [{"id": "A" * 257, "text": "x"}]}, "'id' must be at most 256 characters"),
        ({"items": [{"id": "A-1"}]}, r"items\[0\] \(id 'A-1'\): has no 'text'"),
        ({"items": [{"id": "A-1", "text": None}]}, r"'text' must be a string, not None"),
        (
            {"items": [{"id": "A-1", "text": "  "}]},
            r"items\[0\] \(id 'A-1'\): 'text' must not be blank",
        ),
        ({"items": [{**GOOD, "kind": ""}]}, "'kind' must be a non-blank string"),
        ({"items": [GOOD, dict(GOOD)]}, r"items\[1\] \(id 'A-1'\): the id repeats items\[0\]"),
        ({"items": [GOOD], "run_id": 5}, "infer-atoms: 'run_id' must be a string, not int"),
        ({"items": [GOOD], "run_id": "a b "}, "'run_id' must not start or end with white space"),
    ],
)
async def test_bad_input_is_refused_before_anything_runs(
    nodes: NodesFactory, state: dict[str, Any], problem: str
) -> None:
    async with nodes(names=["infer-atoms"]) as n:
        node = await n.node("infer-atoms")
        async with n.bus.subscribe() as events:
            with pytest.raises(StateError, match=problem) as caught:
                await node(state)
            assert events.empty()
        assert await n.service.store.list_jobs() == []
    assert str(caught.value).startswith("infer-atoms: ")


async def test_items_may_be_structs_and_carry_extra_keys(nodes: NodesFactory) -> None:
    items: list[Any] = [
        Item(id="S-1", text="Exports are CSV files.", kind="requirement"),
        {**GOOD, "owner": "team-b", "priority": 2},
    ]
    async with nodes(names=["infer-atoms"]) as n:
        update = await n.run("infer-atoms", {"items": items, "unrelated": object()})

    assert {a["item_id"] for a in update["atoms"]} == {"S-1", "A-1"}


def test_the_bundled_samples_are_valid_items() -> None:
    samples = load_samples()
    assert 40 <= len(samples) <= 80
    assert len({s["id"] for s in samples}) == len(samples)
    assert {s["kind"] for s in samples} == {"requirement", "test case", "documentation"}
    assert all(s["text"].strip() and set(s) == {"id", "kind", "text"} for s in samples)
    assert load_samples(5) == samples[:5]
    assert load_samples(0) == []
    with pytest.raises(ValueError, match="limit must be 0 or more"):
        load_samples(-1)


async def test_the_samples_run_through_infer_atoms_and_verify(nodes: NodesFactory) -> None:
    state: dict[str, Any] = {"items": load_samples(), "run_id": "demo"}
    async with nodes() as n:
        state |= await n.run("infer-atoms", state)
        state |= await n.run("verify", state)

    atoms = state["atoms"]
    assert {a["item_id"] for a in atoms} == {s["id"] for s in state["items"]}
    report = state["verify_report"]
    assert report["failed"] == []
    scored = state["verified_atoms"] + state["rejected_atoms"]
    assert sorted(s["id"] for s in scored) == sorted(a["id"] for a in atoms)
