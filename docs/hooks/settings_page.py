"""The settings reference: every key of `batchery.settings.Settings`, read from the Struct.

Key, type and constraints come from the Struct's JSON Schema, the default from the Struct, the
environment variable from the rule `batchery._settings_sources.read_env` applies, the meaning
from the docstring beside the field.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from batchery import settings
from batchery._settings_sources import CONFIG_ENV, DEFAULT_CONFIG_NAME, ENV_PREFIX
from docstrings import attribute_docs
from schema_text import anchor, fields_table, type_text

_FILE_ONLY = "prices"
"""A table of tables of numbers: only a TOML file can write it."""
_PROVIDERS = "providers"


def _variable(name: str) -> str:
    if name == _PROVIDERS:
        return f"`{ENV_PREFIX}PROVIDERS__<PROVIDER>__<OPTION>`"
    if name == _FILE_ONLY:
        return "(file only)"
    return f"`{ENV_PREFIX}{name.upper()}`"


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.default is not msgspec.NODEFAULT:
        return f"`{json.dumps(field.default)}`"
    return f"`{json.dumps(msgspec.to_builtins(field.default_factory()))}`"


def _link(name: str) -> str:
    return f"[{name}](#{anchor(name)})"


def _nested(components: dict[str, Any]) -> list[str]:
    """A section for each object a setting's type names (a price, say)."""
    lines: list[str] = []
    for name, schema in sorted(components.items()):
        if name != "Settings":
            lines += [f"### {name} {{ #{anchor(name)} }}", "", fields_table(schema, _link), ""]
    return lines


def render() -> str:
    """The page's Markdown."""
    _, components = msgspec.json.schema_components(
        (settings.Settings,), ref_template="#/components/schemas/{name}"
    )
    schema = components["Settings"]
    docs = attribute_docs(settings)["Settings"]
    keys: list[str] = []
    for field in msgspec.structs.fields(settings.Settings):
        kind = type_text(schema["properties"][field.name], _link)
        keys += [
            f"### `{field.name}` {{ #{field.name} }}",
            "",
            docs.get(field.name, ""),
            "",
            f"Type: {kind} · default: {_default(field)} · environment: {_variable(field.name)}",
            "",
        ]
    return "\n".join(
        [
            "# Settings",
            "",
            "Generated from `batchery.settings.Settings` when the site is built: every key,",
            "its type and limits, its default, the environment variable that sets it and what",
            "it does.",
            "",
            "Layers, lowest to highest: the defaults below, a TOML file (`--config FILE`, else",
            f"`{CONFIG_ENV}`, else `./{DEFAULT_CONFIG_NAME}` if it exists), `{ENV_PREFIX}*`",
            "environment variables, then command-line options. `batchery config` prints every",
            "value in force and where it came from. An unknown key or a value that breaks its",
            "rule stops the command with exit code 2, naming the key and its source.",
            "",
            "In the file, settings are top-level keys and provider options are",
            '`[providers.NAME]` tables; price overrides are `[prices.PROVIDER."MODEL"]` tables',
            "(see [Override prices](../how-to/prices.md)). API keys are never settings: each",
            "provider reads its own variable (`OPENAI_API_KEY`, ...).",
            "",
            "```toml",
            'store = "/var/lib/batchery/jobs.db"',
            "batch_threshold = 50",
            "",
            "[providers.openai]",
            'base_url = "http://127.0.0.1:8080/v1"',
            "```",
            "",
            "Without `store`, the job store is `batchery.db` in the user data directory:",
            "`~/.local/share/batchery/` on Linux, `~/Library/Application Support/batchery/` on",
            "macOS, `%LOCALAPPDATA%\\batchery\\` on Windows; `batchery config` prints the path.",
            "",
            "## Keys",
            "",
            *keys,
            "## Types",
            "",
            *_nested(components),
        ]
    )
