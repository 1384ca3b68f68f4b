"""`batchery costs` and `batchery cache`: what was spent and saved, and the result cache."""

from __future__ import annotations

import time

import click
import msgspec
from rich.table import Table

from batchery.cli._common import parse_duration, settings_from, table_console
from batchery.cli._loop import run_async
from batchery.model import Endpoint
from batchery.store import CostRow, open_store

__all__ = ["cache_group", "costs_command"]

_store_option = click.option("--store", help="Job store path or URL.")


async def _report(url: str, since: float | None, emulated: bool) -> list[CostRow]:
    store = open_store(url)
    await store.open()
    try:
        return await store.history.cost_report(since=since, emulated=emulated)
    finally:
        await store.close()


@click.command("costs")
@click.option("--since", help="Only the last DURATION, e.g. 24h or 30d.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows for programs.")
@click.option(
    "--include-emulated", is_flag=True, help="Also show what emulator runs would have cost."
)
@_store_option
def costs_command(
    since: str | None, as_json: bool, include_emulated: bool, store: str | None
) -> None:
    """Spend by day, endpoint, model and mode, with what realtime would have cost.

    Only real endpoints count unless --include-emulated: an emulator's spend is never money.
    """
    loaded = settings_from(None, {"store": store})
    start = time.time() - parse_duration(since) if since else None
    rows = run_async(_report(loaded.settings.store_url(), start, include_emulated))
    if as_json:
        click.echo(
            msgspec.json.format(
                msgspec.json.encode(
                    [msgspec.structs.asdict(r) | {"savings_usd": r.savings_usd} for r in rows]
                ),
                indent=2,
            )
        )
        return
    table = Table(
        "day",
        "provider",
        "endpoint",
        "model",
        "mode",
        "requests",
        "cached",
        "cost $",
        "realtime $",
        "saved $",
    )
    for r in rows:
        table.add_row(
            r.day,
            r.provider,
            _endpoint(r),
            r.model or "",
            r.mode or "",
            str(r.requests),
            str(r.cached),
            f"{r.cost_usd:.4f}",
            f"{r.realtime_cost_usd:.4f}",
            f"{r.savings_usd:.4f}",
        )
    cost = sum(r.cost_usd for r in rows)
    realtime = sum(r.realtime_cost_usd for r in rows)
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        "",
        "",
        str(sum(r.requests for r in rows)),
        str(sum(r.cached for r in rows)),
        f"{cost:.4f}",
        f"{realtime:.4f}",
        f"{realtime - cost:.4f}",
    )
    table_console().print(table)


def _endpoint(row: CostRow) -> str:
    if not row.recorded:
        return "(not recorded)"
    return Endpoint(provider=row.provider, base_url=row.base_url, emulated=row.emulated).shown


@click.group("cache")
def cache_group() -> None:
    """The result cache: answers reused when the same request runs again."""


@cache_group.command("prune")
@click.option("--older-than", help="Age to drop, e.g. 30d (default: cache_max_age_days).")
@_store_option
def prune_cache(older_than: str | None, store: str | None) -> None:
    """Drop cached answers older than the given age."""
    loaded = settings_from(None, {"store": store})
    age = parse_duration(older_than) if older_than else loaded.settings.cache_max_age_days * 86400.0

    async def prune() -> int:
        opened = open_store(loaded.settings.store_url())
        await opened.open()
        try:
            return await opened.cache.prune(time.time() - age)
        finally:
            await opened.close()

    click.echo(f"{run_async(prune())} cached answers removed")
