"""verify input: what `atoms` and `items` may hold, and errors naming the atom and the rule."""

from __future__ import annotations

from typing import Any

import pytest
from batchery_verify import StateError

from ..conftest import NodesFactory

GOOD = {"id": "A-1#1", "statement": "Sign-in locks after five failures."}


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({}, "verify: the state has no 'atoms'"),
        ({"atoms": None}, "'atoms' must be a list of atoms .*, not NoneType"),
        ({"atoms": [GOOD, "A-2"]}, r"atoms\[1\]: expected a mapping or an Atom, not str"),
        ({"atoms": [{"statement": "x"}]}, r"atoms\[0\]: Object missing required field `id`"),
        ({"atoms": [{"id": "A"}]}, r"atoms\[0\]: Object missing required field `statement`"),
        ({"atoms": [{**GOOD, "id": 3}]}, r"atoms\[0\]: Expected `str`, got `int` - at `\$\.id`"),
        ({"atoms": [{**GOOD, "confidence": "high"}]}, r"got `str` - at `\$\.confidence`"),
        ({"atoms": [{**GOOD, "id": ""}]}, r"atoms\[0\]: 'id' must not be empty"),
        ({"atoms": [{**GOOD, "statement": " "}]}, r"\(id 'A-1#1'\): 'statement' must not be blank"),
        ({"atoms": [GOOD, GOOD]}, r"atoms\[1\] \(id 'A-1#1'\): the id repeats atoms\[0\]"),
        ({"atoms": [GOOD], "items": "x"}, "'items' must be a list of {id, text} items, not str"),
        ({"atoms": [GOOD], "items": [{"id": 1}]}, r"items\[0\]: an item needs a string 'id'"),
        ({"atoms": [GOOD], "run_id": ""}, "verify: 'run_id' must not be empty"),
    ],
)
async def test_bad_input_is_refused_before_anything_runs(
    nodes: NodesFactory, state: dict[str, Any], problem: str
) -> None:
    async with nodes(names=["verify"]) as n:
        node = await n.node("verify")
        async with n.bus.subscribe() as events:
            with pytest.raises(StateError, match=problem):
                await node(state)
            assert events.empty()
        assert await n.service.store.list_jobs() == []


async def test_no_atoms_means_no_jobs(nodes: NodesFactory) -> None:
    async with nodes(names=["verify"]) as n:
        update = await n.run("verify", {"atoms": [], "items": None})

    assert update["verified_atoms"] == update["rejected_atoms"] == update["unscored_atoms"] == []
    assert update["verify_report"]["jobs"] == []
