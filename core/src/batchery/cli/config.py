"""`batchery config`: every effective setting, where it came from, and which keys are set.

Key variables are reported as set (masked) or unset, never with their value, so the output
can be pasted into an issue.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import click

from batchery.logging import redact_text, redact_value
from batchery.secrets import MASK
from batchery.settings import LoadedSettings, SettingsError, load_settings

__all__ = ["DEFAULT_KEY_ENVS", "config_command", "make_config_command"]

DEFAULT_KEY_ENVS = ("OPENAI_API_KEY",)

KeyEnvs = Iterable[str | None] | Callable[[], Iterable[str | None]]


def _names(key_envs: KeyEnvs) -> list[str]:
    names = key_envs() if callable(key_envs) else key_envs
    return list(dict.fromkeys(name for name in names if name))


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return redact_text(value)
    return redact_text(json.dumps(value) if isinstance(value, dict) else str(value))


def render_text(loaded: LoadedSettings, keys: Mapping[str, bool]) -> str:
    """Two aligned tables: settings (key, value, source) and key variables (set or unset)."""
    rows = [(key, _show(value), source) for key, value, source in loaded.entries()]
    key_rows = [
        (name, MASK if is_set else "-", "set" if is_set else "unset")
        for name, is_set in keys.items()
    ]
    width = max(len(row[0]) for row in rows + key_rows)
    value_width = max(len(row[1]) for row in rows + key_rows)
    lines = [f"config file: {loaded.config_file or 'none'}", "", "settings:"]
    lines += [f"  {k:<{width}}  {v:<{value_width}}  {s}" for k, v, s in rows]
    lines += ["", "provider keys:"]
    lines += [f"  {k:<{width}}  {v:<{value_width}}  {s}" for k, v, s in key_rows]
    return "\n".join(lines)


def render_json(loaded: LoadedSettings, keys: Mapping[str, bool]) -> str:
    """The same report for machines: values keep their JSON types; a set key shows the mask."""
    document = {
        "config_file": loaded.config_file,
        "settings": {
            key: {"value": redact_value(value), "source": source}
            for key, value, source in loaded.entries()
        },
        "keys": {name: MASK if is_set else None for name, is_set in keys.items()},
    }
    return json.dumps(document, indent=2)


def make_config_command(key_envs: KeyEnvs = DEFAULT_KEY_ENVS) -> click.Command:
    """The `config` command reporting `key_envs` (names, or a callable giving them lazily).

    A callable lets the CLI pass each installed provider's `ProviderInfo.key_env` without
    discovering providers until the command runs.
    """

    @click.command("config")
    @click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="TOML config file (default: $BATCHERY_CONFIG, else ./batchery.toml).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def config(config_file: Path | None, as_json: bool) -> None:
        """Show every effective setting with its source, and which provider keys are set."""
        try:
            loaded = load_settings(config_file=config_file, environ=os.environ)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        keys = {name: bool(os.environ.get(name)) for name in _names(key_envs)}
        click.echo(render_json(loaded, keys) if as_json else render_text(loaded, keys))

    return config


config_command = make_config_command()
