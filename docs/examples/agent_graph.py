"""infer-atoms then verify in a LangGraph graph, with a checkpointer and one deadline."""

import asyncio
import time
from typing import Any, TypedDict

from batchery.app import build_application
from batchery.settings import load_settings
from batchery_infer_atoms import Atom, InferAtomsReport, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_verify import ScoredAtom, VerifyReport
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    topic: str
    items: list[dict[str, str]]  # read by infer-atoms (and verify, for source text)
    deadline_at: float  # read by both: the graph's one deadline
    atoms: list[Atom]  # written by infer-atoms, read by verify
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[ScoredAtom]  # written by verify
    rejected_atoms: list[ScoredAtom]
    unscored_atoms: list[dict[str, Any]]
    verify_report: VerifyReport
    report: str


def draft(state: State) -> dict[str, Any]:
    return {"items": load_samples(24)}  # your own items: [{"id": ..., "text": ...}, ...]


def report(state: State) -> dict[str, Any]:
    kept = [atom["statement"] for atom in state["verified_atoms"]]
    return {"report": f"{len(kept)} atoms kept for {state['topic']}"}


async def main() -> dict[str, Any]:
    settings = load_settings().settings  # batchery.toml, then BATCHERY_* variables
    app = await build_application(settings, only=["openai"], nodes=["infer-atoms", "verify"])
    bus = await app.get("batchery.bus")
    try:
        builder = StateGraph(State)
        builder.add_node("draft", draft)
        builder.add_node(as_langgraph_node(await app.get("infer-atoms.node"), bus))
        builder.add_node(as_langgraph_node(await app.get("verify.node"), bus))
        builder.add_node("report", report)
        builder.add_edge(START, "draft")
        builder.add_edge("draft", "infer-atoms")
        builder.add_edge("infer-atoms", "verify")
        builder.add_edge("verify", "report")
        builder.add_edge("report", END)
        async with AsyncSqliteSaver.from_conn_string("graph.db") as saver:
            graph = builder.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "requirements-2026-12"}}
            inputs = {"topic": "loans", "deadline_at": time.time() + 6 * 3600}
            return await graph.ainvoke(inputs, config)
    finally:
        await app.close()


final = asyncio.run(main())
print(final["report"])
