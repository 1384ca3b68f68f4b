"""draft → infer-atoms → verify → report, compiled with a checkpointer, as a graph author writes it.

Imported by the checkpointer tests, and run as a script by the crash test, so a process can be
killed while a node's batch is in flight and the thread resumed by another process:

    python checkpointed_graph.py --base-url URL --store jobs.db --saver sqlite:cp.db \\
        --thread T [--resume]

The script prints the final state as one JSON line, so the state must be plain JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypedDict

from batchery.app import build_application
from batchery.logging import configure_logging
from batchery.progress import ProgressBus
from batchery.settings import Settings
from batchery_infer_atoms import Atom, InferAtomsReport, InferAtomsSettings, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_verify import ScoredAtom, VerifyReport, VerifySettings
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

KEY = "sk-test-checkpointed-graph"


class State(TypedDict, total=False):
    count: int
    items: list[dict[str, str]]
    atoms: list[Atom]
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[ScoredAtom]
    rejected_atoms: list[ScoredAtom]
    unscored_atoms: list[dict[str, Any]]
    verify_report: VerifyReport
    summary: dict[str, Any]


def draft(state: State) -> dict[str, Any]:
    """The graph's own first step: choose the items to work on."""
    return {"items": load_samples(state["count"])}


def report(state: State) -> dict[str, Any]:
    """The graph's own last step: read what the Batchery nodes wrote."""
    verify = state["verify_report"]
    return {
        "summary": {
            "kept": [atom["id"] for atom in state["verified_atoms"]],
            "modes": [m["mode"] for m in state["infer_atoms_report"]["modes"] + verify["modes"]],
            "cost_usd": state["infer_atoms_report"]["cost_usd"] + verify["cost_usd"],
        }
    }


def build_graph(
    infer_atoms: Any, verify: Any, bus: ProgressBus, saver: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any]:
    builder = StateGraph(State)
    builder.add_node("draft", draft)
    builder.add_node(as_langgraph_node(infer_atoms, bus))
    builder.add_node(as_langgraph_node(verify, bus))
    builder.add_node("report", report)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "infer-atoms")
    builder.add_edge("infer-atoms", "verify")
    builder.add_edge("verify", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=saver)


@asynccontextmanager
async def open_saver(spec: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """`memory`, `sqlite:PATH` or `postgres:URL`, each with its default serializer."""
    kind, _, where = spec.partition(":")
    if kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        async with AsyncSqliteSaver.from_conn_string(where) as sqlite:
            yield sqlite
    elif kind == "postgres":
        async with AsyncPostgresSaver.from_conn_string(where) as postgres:
            await postgres.setup()
            yield postgres
    else:
        raise ValueError(f"unknown saver {spec!r}: use memory, sqlite:PATH or postgres:URL")


def comparable(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state without what names a run (run and job ids), which differ between threads."""
    kept = dict(state)
    for key in ("infer_atoms_report", "verify_report"):
        node_report = dict(kept[key])
        del node_report["run_id"], node_report["jobs"]
        node_report["modes"] = [{**m, "job_id": None} for m in node_report["modes"]]
        kept[key] = node_report
    return kept


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        store=args.store, poll_interval_s=0.1, poll_backoff=1.0, poll_max_interval_s=0.1
    )
    app = await build_application(
        settings,
        only=["openai"],
        nodes=["infer-atoms", "verify"],
        provider_options={"openai": {"base_url": args.base_url, "api_key": KEY}},
        overrides={
            "infer-atoms.settings": InferAtomsSettings(mode="batch"),
            "verify.settings": VerifySettings(mode="batch"),
        },
    )
    try:
        async with open_saver(args.saver) as saver:
            graph = build_graph(
                await app.get("infer-atoms.node"),
                await app.get("verify.node"),
                await app.get("batchery.bus", ProgressBus),
                saver,
            )
            config: Any = {"configurable": {"thread_id": args.thread}}
            given = None if args.resume else {"count": args.count}
            final: dict[str, Any] = await graph.ainvoke(given, config)
            return final
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--saver", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--resume", action="store_true")
    configure_logging(level="warning")
    print(json.dumps(asyncio.run(_main(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
