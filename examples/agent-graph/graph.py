"""infer-atoms → verify as a LangGraph graph, run against the in-process OpenAI emulator.

    uv run python examples/agent-graph/graph.py [--items 48] [--mode auto|batch|realtime]

Both nodes come from a Batchery application (their plugins are found through entry points) and
enter the graph through `batchery_langgraph.as_langgraph_node`. The graph is streamed with
`stream_mode=["custom", "values"]`: the custom stream carries every Batchery event of each
node's run (the mode the policy chose, batches, progress, the node's cost) as a plain dict, and
the last values chunk is the final state. Nothing leaves the machine and no key is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from batchery.app import build_application
from batchery.logging import configure_logging
from batchery.progress import ProgressBus
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_infer_atoms import Atom, InferAtomsReport, InferAtomsSettings, load_samples
from batchery_langgraph import as_langgraph_node
from batchery_openai.emulator import OpenAIEmulator
from batchery_verify import ScoredAtom, VerifyReport, VerifySettings
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


def build_graph(infer_atoms: Any, verify: Any, bus: ProgressBus) -> CompiledStateGraph[Any]:
    """START → infer-atoms → verify → END; each node named after its Batchery node."""
    builder = StateGraph(State)
    builder.add_node(as_langgraph_node(infer_atoms, bus))
    builder.add_node(as_langgraph_node(verify, bus))
    builder.add_edge(START, "infer-atoms")
    builder.add_edge("infer-atoms", "verify")
    builder.add_edge("verify", END)
    return builder.compile()


_SHOWN = {
    "node_started": ("node", "items"),
    "mode_chosen": ("mode", "reason"),
    "run_started": ("mode", "total"),
    "batch_submitted": ("batch_id", "requests"),
    "progress": ("phase", "completed", "total"),
    "item_retried": ("custom_id", "reason"),
    "fallback_started": ("count", "reason"),
    "run_finished": ("status", "succeeded", "failed"),
    "node_finished": ("node", "produced", "cost_usd", "savings_usd"),
}


def describe(event: dict[str, Any]) -> str:
    """One line for a custom-stream chunk: its type, run id and the fields worth reading."""
    fields = " ".join(f"{key}={event[key]}" for key in _SHOWN.get(event["type"], ()))
    return f"{event['type']:<16} {event['run_id']}  {fields}"


async def run(items: int, mode: ModeName, time_scale: float) -> dict[str, Any]:
    """Boot an emulator and an application, stream the graph once; the final state."""
    options = EmulatorOptions(time_scale=time_scale)
    with tempfile.TemporaryDirectory() as tmp:
        async with OpenAIEmulator(options, api_key=EMULATOR_KEY) as emulator:
            settings = Settings(
                store=str(Path(tmp) / "jobs.db"), poll_interval_s=0.25, poll_max_interval_s=1.0
            )
            app = await build_application(
                settings,
                only=["openai"],
                nodes=["infer-atoms", "verify"],
                provider_options={
                    "openai": {"base_url": emulator.base_url, "api_key": EMULATOR_KEY}
                },
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
                )
                final: dict[str, Any] = {}
                async for part in graph.astream(
                    {"items": load_samples(items)},
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
    best: list[ScoredAtom] = sorted(final["verified_atoms"], key=lambda atom: -atom["score"])[:3]
    lines += [f"  {atom['score']:>3} {atom['id']}: {atom['statement']}" for atom in best]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48, help="sample items to use (max 48)")
    parser.add_argument("--mode", choices=("auto", "batch", "realtime"), default="auto")
    parser.add_argument("--time-scale", type=float, default=50.0, help="emulated clock speed")
    args = parser.parse_args()
    configure_logging(level="warning")
    final = asyncio.run(run(args.items, cast(ModeName, args.mode), args.time_scale))
    print("\n".join(summary(final)))


if __name__ == "__main__":
    main()
