"""`batchery emulate NAME`: serve a provider's emulator until stopped, for anyone's tests."""

from __future__ import annotations

import asyncio
import signal

import click

from batchery.cli._common import settings_from, start_emulator
from batchery.cli._loop import run_async
from batchery.spi import EmulatorOptions

__all__ = ["emulate_command"]


@click.command("emulate")
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0 picks a free port.")
@click.option(
    "--time-scale",
    default=100.0,
    show_default=True,
    help="Emulated seconds per real second (86400 makes a day pass in a second).",
)
@click.option("--faults", default="", help="Fault plan, e.g. 'http_429=0.1,batch_expire'.")
@click.option(
    "--latency",
    "latency_s",
    default=0.0,
    show_default=True,
    help="Seconds each realtime call takes, its answer included.",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--rpm", type=int, help="Realtime requests allowed per emulated minute.")
@click.option("--tpm", type=int, help="Realtime tokens allowed per emulated minute.")
def emulate_command(
    name: str,
    host: str,
    port: int,
    time_scale: float,
    faults: str,
    latency_s: float,
    seed: int,
    rpm: int | None,
    tpm: int | None,
) -> None:
    """Serve the NAME provider's API on HOST:PORT; the first line printed is its address."""
    settings_from(None, {})
    try:
        options = EmulatorOptions(
            time_scale=time_scale,
            faults=faults,
            latency_s=latency_s,
            seed=seed,
            requests_per_min=rpm,
            tokens_per_min=tpm,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def serve() -> None:
        try:
            emulator = await start_emulator(name, options, host=host, port=port)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        address = emulator.base_url.split("/", 3)
        click.echo(f"listening on {address[0]}//{address[2]}")
        click.echo(f"base URL: {emulator.base_url}", err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await emulator.close()

    run_async(serve())
