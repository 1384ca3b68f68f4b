"""`batchery demo`: the infer-atoms → verify pipeline on bundled sample items, in seconds.

The sample items that ship with the infer-atoms node go through infer-atoms, then verify,
against the in-process OpenAI emulator, with the job store on SQLite. The service's policy picks
each node's mode (batch, at this size), progress shows live, and a closing table says what each
node produced, what it cost and what it saved against realtime. Core imports neither node: both
are found through the `batchery.nodes` entry point, as a third party's would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import click
from rich import box
from rich.console import Console
from rich.table import Table

from batchery.cli._common import AppContext, open_app, settings_from, table_console
from batchery.cli._loop import run_async
from batchery.cli._progress import follow
from batchery.events import BatchSubmitted, ModeChosen, NodeFinished, NodeStarted, RunEvent
from batchery.nodes import discover_nodes
from batchery.secrets import shown_url
from batchery.spi import EmulatorOptions

__all__ = ["PIPELINE", "demo_command", "demo_items"]

PIPELINE = ("infer-atoms", "verify")
_NEEDS = "the demo needs the node plugins batchery-infer-atoms and batchery-verify"


def _sample_loader() -> Callable[[], list[dict[str, str]]]:
    """`load_samples` of the package that registered the infer-atoms node, found by entry point."""
    entry = next((e for e in discover_nodes() if e.name == PIPELINE[0]), None)
    if entry is None or entry.module is None:
        raise click.UsageError(f"{_NEEDS}: {entry.error if entry else 'infer-atoms is missing'}")
    package = importlib.import_module(entry.value.partition(":")[0])
    loader: object = getattr(package, "load_samples", None)
    if not callable(loader):
        raise click.UsageError(f"{entry.value} ships no load_samples(); {_NEEDS}")
    return cast(Callable[[], list[dict[str, str]]], loader)


def demo_items(count: int, samples: list[dict[str, str]]) -> list[dict[str, str]]:
    """`count` items from `samples`, repeated as needed; repeats get ids like `REQ-001/2`."""
    if not samples:
        raise click.UsageError("the infer-atoms plugin ships no sample items")
    items = []
    for n in range(count):
        sample, copy = samples[n % len(samples)], n // len(samples) + 1
        items.append(sample if copy == 1 else {**sample, "id": f"{sample['id']}/{copy}"})
    return items


@dataclass
class _NodeRun:
    node: str
    modes: list[ModeChosen] = field(default_factory=list)
    batches: int = 0
    finished: NodeFinished | None = None


class _Tally:
    """A progress-bus sink keeping, per node run, its jobs' modes, its batches and its figures.

    A sink sees every event in order, where a subscriber's bounded queue could drop some.
    """

    def __init__(self) -> None:
        self.runs: dict[str, _NodeRun] = {}

    def _owner(self, run_id: str) -> _NodeRun | None:
        return next((r for prefix, r in self.runs.items() if run_id.startswith(prefix)), None)

    async def __call__(self, event: RunEvent, body: bytes) -> None:
        if isinstance(event, NodeStarted):
            self.runs[event.run_id] = _NodeRun(event.node)
            return
        run = self._owner(event.run_id)
        if run is None:
            return
        if isinstance(event, ModeChosen):
            run.modes.append(event)
        elif isinstance(event, BatchSubmitted):
            run.batches += 1
        elif isinstance(event, NodeFinished):
            run.finished = event


def _usd(value: float) -> str:
    return f"${value:.6f}"


def _closing(tally: _Tally, final: Mapping[str, Any], elapsed: float) -> list[Table | str]:
    """The table of what each node did and cost, why each mode, and how many atoms were kept."""
    title = " → ".join((f"{len(final['items'])} sample items", *PIPELINE))
    table = Table(
        "node", "mode", "in", "out", "failed", "retried", "cached", "batches", "cost",
        "realtime", "savings", title=title, box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for column in table.columns[2:]:
        column.justify = "right"
    cost = realtime = 0.0
    lines: list[Table | str] = [table]
    for run in tally.runs.values():
        done = run.finished
        if done is None:
            continue
        modes = list(dict.fromkeys(str(chosen.mode) for chosen in run.modes))
        table.add_row(
            run.node, "+".join(modes), str(done.items), str(done.produced),
            str(len(done.failed_items)), str(done.retried),
            str(sum(chosen.cached for chosen in run.modes)), str(run.batches),
            _usd(done.cost_usd), _usd(done.realtime_cost_usd), _usd(done.savings_usd),
        )  # fmt: skip
        cost += done.cost_usd
        realtime += done.realtime_cost_usd
        if run.modes:
            lines.append(f"{run.node} ran in {run.modes[0].mode} mode: {run.modes[0].reason}")
    saved = realtime - cost
    share = f" ({saved / realtime:.0%})" if realtime > 0 else ""
    table.add_section()
    table.add_row(
        "total", "", "", "", "", "", "", "", _usd(cost), _usd(realtime), _usd(saved) + share
    )
    kept, rejected = len(final["verified_atoms"]), len(final["rejected_atoms"])
    unscored, found = len(final["unscored_atoms"]), len(final["atoms"])
    lines.append(
        f"atoms kept: {kept} of {found} ({rejected} rejected, {unscored} unscored) "
        f"in {elapsed:.1f}s"
    )
    return lines


def _pipeline_finished(event: RunEvent) -> bool:
    return isinstance(event, NodeFinished) and event.node == PIPELINE[-1]


async def _run_pipeline(
    ctx: AppContext, items: list[dict[str, str]]
) -> tuple[_Tally, dict[str, Any]]:
    """Call the nodes in turn on one state, showing progress live; the tally and final state."""
    nodes = [await ctx.app.get(f"{name}.node") for name in PIPELINE]
    state: dict[str, Any] = {"items": items, "run_id": f"demo-{uuid.uuid4().hex[:8]}"}
    tally = _Tally()
    bus = ctx.service.bus
    bus.add_sink(tally)
    try:
        async with bus.subscribe() as queue:
            view = asyncio.create_task(follow(queue, until=_pipeline_finished))
            try:
                for node in nodes:
                    state |= await node(state)
            finally:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(view, timeout=1.0)
    finally:
        bus.remove_sink(tally)
    return tally, state


@click.command("demo")
@click.option(
    "--items",
    "--requests",
    "count",
    type=click.IntRange(min=1),
    default=48,
    show_default=True,
    help="Sample items to run (the 48 bundled ones repeat beyond that).",
)
@click.option("--store", help="Job store path or URL (default: BATCHERY_STORE or user data).")
@click.option(
    "--time-scale",
    default=25.0,
    show_default=True,
    help="How much faster than real time the emulated provider runs.",
)
def demo_command(count: int, store: str | None, time_scale: float) -> None:
    """Run sample items through infer-atoms → verify on the local OpenAI emulator."""
    loaded = settings_from(
        None,
        {
            "store": store,
            "poll_interval_s": 0.25,
            "poll_max_interval_s": 1.0,
            "max_requests_per_batch": 100,
        },
    )
    items = demo_items(count, _sample_loader()())
    console = Console(stderr=True)

    async def main() -> tuple[_Tally, dict[str, Any], float]:
        started = time.monotonic()
        async with open_app(
            loaded,
            "openai",
            emulate=True,
            emulator_options=EmulatorOptions(time_scale=time_scale),
            nodes=PIPELINE,
            node_options={node: {"use_cache": False} for node in PIPELINE},
        ) as ctx:
            console.print(
                f"emulator at {ctx.base_url}; store {shown_url(loaded.settings.store_url())}"
            )
            tally, final = await _run_pipeline(ctx, items)
        return tally, final, time.monotonic() - started

    tally, final, elapsed = run_async(main())
    out = table_console()
    for line in _closing(tally, final, elapsed):
        out.print(line, markup=False)
