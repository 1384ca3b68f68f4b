from ..conftest import NodesFactory, sample_items


async def test_probe(nodes: NodesFactory) -> None:
    async with nodes() as n:
        out = await n.run("infer-atoms", {"items": sample_items(3)})
    assert out["atoms"]
    print([type(e).__name__ for e in n.events])
