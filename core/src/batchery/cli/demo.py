"""`batchery demo`: the main job on the embedded default, start to finish in seconds.

A few hundred review-classification requests go through batch mode against the in-process
OpenAI emulator, with the job store on SQLite and progress shown live.
"""

from __future__ import annotations

import asyncio
import contextlib

import click
from rich.console import Console
from rich.table import Table

from batchery.cli._common import open_app, settings_from
from batchery.cli._progress import follow
from batchery.logging import configure_logging
from batchery.model import LlmRequest, LlmResult, Message, Mode
from batchery.spi import EmulatorOptions

__all__ = ["demo_command", "demo_requests"]

_TOPICS = ("battery life", "screen", "delivery", "price", "support", "sound", "camera", "fit")
_TONES = ("loved", "was disappointed by", "had mixed feelings about", "was surprised by")
_SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "mixed"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "topic": {"type": "string"},
    },
    "required": ["sentiment", "confidence", "topic"],
    "additionalProperties": False,
}


def demo_requests(count: int) -> list[LlmRequest]:
    """`count` review-classification requests with a JSON answer schema."""
    return [
        LlmRequest(
            custom_id=f"review-{n:04d}",
            messages=(
                Message("system", "Classify the customer review. Answer in JSON."),
                Message(
                    "user",
                    f"Customer {n} {_TONES[n % len(_TONES)]} the {_TOPICS[n % len(_TOPICS)]}.",
                ),
            ),
            max_tokens=60,
            response_schema=_SCHEMA,
        )
        for n in range(count)
    ]


def _table(results: list[LlmResult]) -> Table:
    table = Table("custom_id", "ok")
    table.add_column("answer", no_wrap=True, overflow="ellipsis", max_width=60)
    for result in results[:5]:
        answer = result.text if result.ok else (result.error.message if result.error else "")
        table.add_row(result.custom_id, "yes" if result.ok else "no", (answer or "")[:80])
    return table


@click.command("demo")
@click.option("--requests", "count", default=300, show_default=True)
@click.option("--store", help="Job store path or URL (default: BATCHERY_STORE or user data).")
@click.option(
    "--time-scale",
    default=25.0,
    show_default=True,
    help="How much faster than real time the emulated provider runs.",
)
def demo_command(count: int, store: str | None, time_scale: float) -> None:
    """Run a few hundred requests through batch mode on the local OpenAI emulator."""
    loaded = settings_from(
        None,
        {
            "store": store,
            "poll_interval_s": 0.25,
            "poll_max_interval_s": 1.0,
            "max_requests_per_batch": 100,
        },
    )
    if loaded.sources["log_level"] == "default":
        configure_logging(level="warning", fmt=loaded.settings.log_format)
    console = Console(stderr=True)

    async def main() -> None:
        async with open_app(
            loaded, "openai", emulate=True, emulator_options=EmulatorOptions(time_scale=time_scale)
        ) as ctx:
            console.print(f"emulator at {ctx.base_url}; store {loaded.settings.store_url()}")
            async with ctx.service.bus.subscribe() as queue:
                view = asyncio.create_task(follow(queue))
                outcome = await ctx.service.run(
                    demo_requests(count), provider="openai", mode=Mode.AUTO
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(view, timeout=1.0)
            results = [r async for r in ctx.service.get_batch_results(outcome.job.id)]
        summary = Table(title=f"run {outcome.job.id}", show_header=False)
        for key, value in (
            ("mode", f"{outcome.job.mode} ({outcome.job.reason})"),
            ("requests", outcome.counts.total),
            ("succeeded", outcome.counts.succeeded),
            ("failed", outcome.counts.failed),
            ("batches", outcome.batches_submitted),
            ("duration", f"{outcome.duration_s:.1f}s"),
        ):
            summary.add_row(key, str(value))
        console.print(_table(results))
        console.print(summary)

    asyncio.run(main())
