"""`batchery providers`: what the entry points found, with kinds, limits and discounts."""

from __future__ import annotations

import click
import msgspec
from rich.table import Table

from batchery.cli._common import settings_from, table_console
from batchery.plugins import discover_providers
from batchery.spi import ProviderInfo, ProviderModule

__all__ = ["providers_command"]


@click.command("providers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
def providers_command(as_json: bool) -> None:
    """List installed provider plugins; a plugin that fails to load is shown with its error."""
    settings_from(None, {})
    entries = discover_providers()
    if as_json:
        click.echo(
            msgspec.json.format(
                msgspec.json.encode(
                    [
                        {
                            "name": e.name,
                            "distribution": e.distribution,
                            "version": e.version,
                            "error": e.error,
                            "info": _info(e.module),
                        }
                        for e in entries
                    ]
                ),
                indent=2,
            )
        )
        return
    table = Table(
        "name",
        "distribution",
        "kinds",
        "modes",
        "max requests",
        "max bytes",
        "batch discount",
        "key variable",
    )
    for entry in entries:
        info = _info(entry.module)
        if info is None:
            table.add_row(entry.name, entry.distribution, f"[red]{entry.error}", "", "", "", "", "")
            continue
        modes = "/".join(m for m, on in (("batch", info.batch), ("realtime", info.realtime)) if on)
        table.add_row(
            info.name,
            f"{entry.distribution} {entry.version}",
            ", ".join(sorted(info.kinds)),
            modes,
            f"{info.limits.max_requests_per_batch:,}",
            f"{info.limits.max_bytes_per_batch:,}",
            f"{info.batch_discount:.0%}",
            info.key_env or "",
        )
    table_console().print(table)


def _info(module: object) -> ProviderInfo | None:
    """What a loaded provider module declares; None for one that failed to load."""
    return module.INFO if isinstance(module, ProviderModule) else None
