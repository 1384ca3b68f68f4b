"""infer-atoms → verify as a LangGraph graph with a checkpointer and one deadline for the graph.

    uv run python examples/agent-graph/graph.py [--items 48] [--mode auto|batch|realtime]
        [--base-url URL] [--checkpoints graph.db --thread T [--resume]] [--deadline SECONDS]

Both nodes come from a Batchery application (their plugins are found through entry points) and
enter the graph through `batchery_langgraph.as_langgraph_node`. Settings come from
`batchery.toml` and `BATCHERY_*` as for the CLI; the key from `OPENAI_API_KEY`. Without
`--base-url` the graph runs against an in-process OpenAI emulator and needs no key.

With `--checkpoints` the graph is compiled with LangGraph's `AsyncSqliteSaver` (its default
serializer): kill the process while a batch is in flight and run it again with `--resume` and
the same `--thread`, and it carries on from the last finished node, following the batch that
was in flight instead of paying for it twice. `--deadline` gives the whole graph run one
deadline; each node takes what is left of it.

The graph is streamed with `stream_mode=["custom", "values"]`: the custom stream carries every
Batchery event of each node's run as a plain dict, and the last values chunk is the state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from batchery.app import build_application
from batchery.logging import configure_logging
from batchery.progress import ProgressBus
from batchery.settings import load_settings
from batchery.spi import EmulatorOptions
from batchery_infer_atoms import Atom, InferAtomsReport, InferAtomsSettings, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_openai.emulator import OpenAIEmulator
from batchery_verify import ScoredAtom, VerifyReport, VerifySettings
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

EMULATOR_KEY = "sk-example-agent-graph"
ModeName = Literal["auto", "batch", "realtime"]


class State(TypedDict, total=False):
    """The keys the two nodes read and write (see each node's `info.reads` and `info.writes`)."""

    items: list[dict[str, str]]
    run_id: str
    deadline_at: float
    atoms: list[Atom]
    infer_atoms_report: InferAtomsReport
    verified_atoms: list[ScoredAtom]
    rejected_atoms: list[ScoredAtom]
    unscored_atoms: list[dict[str, Any]]
    verify_report: VerifyReport


def build_graph(
    infer_atoms: Any, verify: Any, bus: ProgressBus, saver: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any]:
    """START → infer-atoms → verify → END; each node named after its Batchery node."""
    builder = StateGraph(State)
    builder.add_node(as_langgraph_node(infer_atoms, bus))
    builder.add_node(as_langgraph_node(verify, bus))
    builder.add_edge(START, "infer-atoms")
    builder.add_edge("infer-atoms", "verify")
    builder.add_edge("verify", END)
    return builder.compile(checkpointer=saver)


_SHOWN = {
    "node_started": ("node", "items"),
    "mode_chosen": ("mode", "reason"),
    "run_started": ("mode", "total"),
    "batch_submitted": ("batch_id", "requests"),
    "progress": ("phase", "completed", "total"),
    "item_retried": ("custom_id", "reason"),
    "fallback_started": ("count", "reason"),
    "run_finished": ("status", "succeeded", "failed"),
    "node_finished": ("node", "produced", "cost_usd", "savings_usd", "overrun_s"),
}


def describe(event: dict[str, Any]) -> str:
    """One line for a custom-stream chunk: its type, run id and the fields worth reading."""
    fields = " ".join(f"{key}={event[key]}" for key in _SHOWN.get(event["type"], ()))
    return f"{event['type']:<16} {event['run_id']}  {fields}"


@contextlib.asynccontextmanager
async def provider(base_url: str | None, time_scale: float) -> AsyncIterator[dict[str, str]]:
    """The OpenAI provider's options: `base_url` and the environment's key, or an emulator."""
    if base_url is not None:
        key = os.environ.get("OPENAI_API_KEY")
        yield {"base_url": base_url} if key is None else {"base_url": base_url, "api_key": key}
        return
    options = EmulatorOptions(time_scale=time_scale)
    async with OpenAIEmulator(options, api_key=EMULATOR_KEY) as emulator:
        yield {"base_url": emulator.base_url, "api_key": EMULATOR_KEY}


@contextlib.asynccontextmanager
async def checkpointer(path: str | None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if path is None:
        yield InMemorySaver()
        return
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        yield saver


async def run(args: argparse.Namespace, store: str) -> dict[str, Any]:
    """Boot an application on the provider, stream the graph once (or resume it); the state."""
    explicit: dict[str, object] = {"store": store}
    if args.base_url is None:
        explicit |= {"poll_interval_s": 0.25, "poll_max_interval_s": 1.0}
    settings = load_settings(explicit=explicit).settings
    mode = cast(ModeName, args.mode)
    async with (
        provider(args.base_url, args.time_scale) as options,
        checkpointer(args.checkpoints) as saver,
    ):
        app = await build_application(
            settings,
            only=["openai"],
            nodes=["infer-atoms", "verify"],
            provider_options={"openai": options},
            overrides={
                "infer-atoms.settings": InferAtomsSettings(mode=mode),
                "verify.settings": VerifySettings(mode=mode),
            },
        )
        try:
            graph = build_graph(
                await app.get("infer-atoms.node"),
                await app.get("verify.node"),
                await app.get("batchery.bus", ProgressBus),
                saver,
            )
            configurable: dict[str, Any] = {"thread_id": args.thread}
            if args.deadline is not None:
                configurable["deadline_at"] = time.time() + args.deadline
            given = None if args.resume else {"items": load_samples(args.items)}
            final: dict[str, Any] = {}
            async for part in graph.astream(
                given,
                {"configurable": configurable},
                stream_mode=["custom", "values"],
                version="v2",
            ):
                if part["type"] == "custom":
                    print(describe(part["data"]), flush=True)
                elif part["type"] == "values":
                    final = part["data"]
            return final
        finally:
            await app.close()


def summary(final: dict[str, Any]) -> list[str]:
    """The final state in a few lines: what was kept, what it cost, the best atoms."""
    infer: InferAtomsReport = final["infer_atoms_report"]
    verify: VerifyReport = final["verify_report"]
    cost = infer["cost_usd"] + verify["cost_usd"]
    savings = infer["savings_usd"] + verify["savings_usd"]
    lines = [
        f"items: {infer['items']}, atoms: {infer['atoms']}, failed items: {len(infer['failed'])}",
        f"verified: {verify['verified']}, rejected: {verify['rejected']}, "
        f"unscored: {len(final['unscored_atoms'])} (pass mark {verify['pass_mark']})",
        f"cost: ${cost:.6f}, saved ${savings:.6f} against realtime",
    ]
    for name, report in (("infer-atoms", infer), ("verify", verify)):
        for job in report["modes"]:
            fell_back = f"; fell back: {job['fallback']}" if job["fallback"] else ""
            lines.append(f"{name} ran {job['mode']}: {job['reason']}{fell_back}")
    best: list[ScoredAtom] = sorted(final["verified_atoms"], key=lambda atom: -atom["score"])[:3]
    lines += [f"  {atom['score']:>3} {atom['id']}: {atom['statement']}" for atom in best]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48, help="sample items to use (max 48)")
    parser.add_argument("--mode", choices=("auto", "batch", "realtime"), default="auto")
    parser.add_argument("--time-scale", type=float, default=50.0, help="emulated clock speed")
    parser.add_argument("--base-url", help="a provider's OpenAI-compatible base URL")
    parser.add_argument("--store", help="the job store (default: a temporary one)")
    parser.add_argument("--checkpoints", help="a SQLite file for LangGraph's checkpoints")
    parser.add_argument("--thread", default="example", help="the graph thread to run or resume")
    parser.add_argument("--resume", action="store_true", help="carry on the thread's last run")
    parser.add_argument("--deadline", type=float, help="seconds the whole graph may take")
    args = parser.parse_args()
    if args.resume and (args.checkpoints is None or args.store is None):
        parser.error("--resume needs the --checkpoints and --store of the run it resumes")
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory() as tmp:
        final = asyncio.run(run(args, args.store or str(Path(tmp) / "jobs.db")))
    if "verify_report" not in final:
        sys.exit("the graph did not reach its end: nothing to resume on this thread?")
    print("\n".join(summary(final)))


if __name__ == "__main__":
    main()
