"""What every command needs: settings, logging, an emulator on demand, the booted application."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import click
import msgspec
from rich.console import Console

from batchery.app import build_application, provider_modules
from batchery.cli._context import LOGGING_META
from batchery.cli._errors import CliError, store_hint
from batchery.cli._exit import ExitCode
from batchery.cli._explain import explain
from batchery.durations import duration_s
from batchery.logging import configure_logging
from batchery.modules import Application, Module, ModuleError
from batchery.service import BatchLlmService
from batchery.settings import LoadedSettings, SettingsError, load_settings
from batchery.spi import (
    EmulatedProviderModule,
    Emulator,
    EmulatorOptions,
    ProviderInfo,
    ProviderModule,
)

__all__ = [
    "EMULATOR_KEY",
    "AppContext",
    "check_store",
    "open_app",
    "parse_duration",
    "provider_info",
    "settings_from",
    "start_emulator",
    "table_console",
]

EMULATOR_KEY = "batchery-emulator-key"


"""Where the `batchery` group leaves `-v` and `--log-file` for the command that sets up logs."""


def settings_from(
    config: str | None, explicit: Mapping[str, object], *, server: bool = False
) -> LoadedSettings:
    """Load the effective settings and set up logging, or stop with the reason.

    A command that takes `--store` (it is in `explicit`) has its store location checked now,
    so an unusable path is named before anything runs. On the console a command shows
    warnings only, unless `-v` or the settings ask for more; a server keeps the settings'.
    """
    try:
        loaded = load_settings(config_file=config, explicit=dict(explicit))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    context = click.get_current_context(silent=True)
    verbose, log_file = context.meta.get(LOGGING_META, (0, None)) if context else (0, None)
    chosen = loaded.sources.get("log_level", "default") != "default"
    level = loaded.settings.log_level if server or chosen else "warning"
    if verbose:
        level = "debug" if verbose > 1 else "info"
    fmt = loaded.settings.log_format
    if not server and loaded.sources.get("log_format", "default") == "default":
        fmt = "console"
    try:
        configure_logging(
            level=level,
            fmt=fmt,
            log_file=log_file,
            file_level="debug" if verbose > 1 else "info",
        )
    except OSError as exc:
        raise CliError(
            f"cannot write the log file {log_file}: {exc.strerror}", ExitCode.ENVIRONMENT
        ) from None
    if "store" in explicit:
        check_store(loaded.settings.store_url())
    return loaded


def _store_problem(path: Path) -> str | None:
    """Why SQLite could not keep its database (and the journal beside it) at `path`."""
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "it is not writable"
    ancestor = next(p for p in path.parents if p.exists())
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    return None


def check_store(url: str) -> None:
    """Refuse a SQLite store path that cannot be created or written, naming it."""
    store_hint(url)
    if "://" in url and not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    problem = _store_problem(path.absolute())
    if problem is not None:
        raise CliError(
            f"cannot use the job store {path}: {problem}; pass --store PATH "
            "(or set BATCHERY_STORE) to a file in a writable directory",
            ExitCode.ENVIRONMENT,
        )


def table_console() -> Console:
    """A console for tables: the terminal's width, or a roomy one when output is piped."""
    return Console(width=shutil.get_terminal_size((160, 24)).columns)


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `6h` or `1d`; anything else is a usage error."""
    try:
        return duration_s(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _module(name: str) -> type[Module]:
    modules = provider_modules(only=[name])
    if name not in modules:
        known = ", ".join(sorted(provider_modules())) or "none"
        raise click.UsageError(f"no provider named {name!r} is installed (installed: {known})")
    return modules[name]


def provider_info(name: str) -> ProviderInfo:
    module: object = _module(name)
    assert isinstance(module, ProviderModule), "discovery admits only provider modules"
    return module.INFO


async def start_emulator(
    name: str, options: EmulatorOptions, *, host: str = "127.0.0.1", port: int = 0
) -> Emulator:
    module: object = _module(name)
    if not isinstance(module, EmulatedProviderModule):
        raise click.UsageError(f"provider {name!r} ships no emulator")
    emulator = module.emulator(options)
    try:
        await emulator.start(host, port)
    except OSError as exc:
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port",
            ExitCode.ENVIRONMENT,
        ) from None
    return emulator


class AppContext(msgspec.Struct):
    app: Application
    service: BatchLlmService
    emulator: Emulator | None
    base_url: str | None


@asynccontextmanager
async def open_app(
    loaded: LoadedSettings,
    provider: str,
    *,
    emulate: bool = False,
    base_url: str | None = None,
    emulator_options: EmulatorOptions | None = None,
    require_key: bool = True,
    nodes: Sequence[str] = (),
    node_options: Mapping[str, Mapping[str, object]] | None = None,
) -> AsyncIterator[AppContext]:
    """Boot the application for `provider` (and the named node plugins), against a fresh
    in-process emulator if asked.

    Without an emulator the provider's key must be in its environment variable: say so now,
    before anything is stored, rather than fail on the first call.
    """
    info = provider_info(provider)
    options: dict[str, object] = {}
    emulator = None
    if emulate:
        emulator = await start_emulator(
            provider, emulator_options or EmulatorOptions(time_scale=200.0)
        )
        options = {"base_url": emulator.base_url, "api_key": EMULATOR_KEY}
    else:
        if require_key and info.key_env and not os.environ.get(info.key_env):
            raise CliError(
                f"{info.key_env} is not set: set it to your {info.title} API key, "
                "or pass --emulate to run against the local emulator",
                ExitCode.PROVIDER_UNAVAILABLE,
            )
        if base_url:
            options["base_url"] = base_url
    try:
        try:
            app = await build_application(
                loaded.settings,
                provider_options={provider: options},
                only=[provider],
                nodes=nodes,
                node_options=node_options,
            )
        except (ModuleError, LookupError) as exc:
            if explain(exc) is not None:
                raise
            raise click.UsageError(str(exc)) from None
        try:
            service = await app.get("batchery.service")
            yield AppContext(app, service, emulator, str(options.get("base_url") or "") or None)
        finally:
            await app.close()
    finally:
        if emulator is not None:
            await emulator.close()
