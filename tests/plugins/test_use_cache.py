"""`Settings(use_cache=False)`, the documented `use_cache = false`, reaches every node.

The first application fills the result cache; the second, on the same store and endpoint
(answers are cached per endpoint, so the emulator keeps its port), serves every item from it;
the third, with the switch off, must ask the provider again for every item.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from batchery.events import ModeChosen

from .conftest import NodesFactory, sample_items

ATOMS = [
    {"id": f"R-{n}#1", "item_id": f"R-{n}", "statement": f"Order {n} ships in {n + 1} days."}
    for n in range(4)
]
REPORTS = {"infer-atoms": "infer_atoms_report", "verify": "verify_report"}


@pytest.mark.parametrize("node", sorted(REPORTS))
async def test_the_applications_use_cache_false_reaches_the_node(
    nodes: NodesFactory, tmp_path: Path, node: str
) -> None:
    store = tmp_path / "shared.db"
    state = {"items": sample_items(4), "atoms": ATOMS}
    async with nodes(store=store) as n:
        await n.run(node, state)
        port = urlsplit(n.emulator.base_url).port
        assert port is not None
    async with nodes(store=store, port=port) as n:
        await n.run(node, state)
        cached = [e.cached for e in n.events if isinstance(e, ModeChosen)]
    async with nodes(store=store, port=port, use_cache=False) as n:
        report = (await n.run(node, state))[REPORTS[node]]
        results = await n.results(report["jobs"][0])
    fresh = [e.cached for e in n.events if isinstance(e, ModeChosen)]

    assert cached == [4], "the cache was not used when it was on"
    assert fresh == [0]
    assert not any(r.cached for r in results)
    assert report["cost_usd"] > 0
