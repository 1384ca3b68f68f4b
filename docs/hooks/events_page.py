"""The events reference: every event of `batchery.events.RunEvent` with its fields' types.

Types come from msgspec's JSON Schema of the union, meanings from the docstrings beside each
field, so the page says what the wire carries.
"""

from __future__ import annotations

import inspect
import json
import typing

import msgspec
from batchery import events
from docstrings import attribute_docs
from schema_text import Schema, anchor, default_text, type_text

_REF = "#/components/schemas/{name}"
_COMMON = ("type", "run_id", "seq", "ts", "v")


def schema_document() -> dict[str, object]:
    """The JSON Schema of `RunEvent`, with every Struct under `components.schemas`."""
    (root,), components = msgspec.json.schema_components((events.RunEvent,), ref_template=_REF)
    return {"anyOf": root["anyOf"], "components": {"schemas": components}}


def _link(name: str) -> str:
    return f"[{name}](#{anchor(name)})"


def _tag(struct: type) -> str | None:
    tag = msgspec.inspect.type_info(struct)
    return getattr(tag, "tag", None)


def _table(schema: Schema, docs: dict[str, str], skip: tuple[str, ...]) -> str:
    required = set(schema.get("required", ()))
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, prop in schema["properties"].items():
        if name in skip:
            continue
        default = default_text(prop, name in required)
        rows.append(f"| `{name}` | {type_text(prop, _link)} | {default} | {docs.get(name, '')} |")
    return "\n".join(rows)


def _section(struct: type, schema: Schema, docs: dict[str, dict[str, str]]) -> list[str]:
    name = struct.__name__
    tag = _tag(struct)
    title = f"`{tag}` ({name})" if tag else name
    fields = {
        field: text
        for klass in reversed(struct.__mro__)
        for field, text in docs.get(klass.__name__, {}).items()
    }
    lines = [f"### {title} {{ #{anchor(name)} }}", ""]
    if struct.__doc__:
        lines += [inspect.cleandoc(struct.__doc__), ""]
    lines += [_table(schema, fields, _COMMON if tag else ()), ""]
    return lines


def _members(union: object) -> list[type]:
    found: list[type] = []
    for member in typing.get_args(union):
        found.extend(_members(member) if typing.get_args(member) else [member])
    return found


def render() -> str:
    """The page's Markdown."""
    components: dict[str, Schema] = schema_document()["components"]["schemas"]  # type: ignore[index]
    docs = attribute_docs(events)
    run_events = _members(events.RunEvent)
    nested = [
        struct for struct in (events.ModeEstimate, events.JobMode) if struct.__name__ in components
    ]
    common = components[run_events[0].__name__]
    lines = [
        "# Events",
        "",
        "Generated from `batchery.events` when the site is built: every event of the",
        "`RunEvent` union, with its fields' JSON types as the WebSocket feed and",
        f"`GET /api/runs/{{run_id}}/log` carry them (schema version {events.SCHEMA_VERSION}).",
        "The whole JSON Schema is [events.schema.json](events.schema.json). What the events",
        "mean together, and in what order they come, is in",
        "[Events and their order](../concepts/events.md).",
        "",
        "## Fields every event carries",
        "",
        _table(
            {
                "properties": {"type": {"type": "string"}}
                | {k: common["properties"][k] for k in _COMMON[1:]},
                "required": common["required"],
            },
            {**docs.get("Event", {}), "type": "Which event: the name in each heading below."},
            (),
        ),
        "",
        "## A job's events and a graph node's events",
        "",
    ]
    for struct in run_events:
        lines += _section(struct, components[struct.__name__], docs)
    lines += ["## Nested objects", ""]
    for struct in nested:
        lines += _section(struct, components[struct.__name__], docs)
    return "\n".join(lines)


def schema_json() -> str:
    """The JSON Schema document served beside the page."""
    return json.dumps(schema_document(), indent=2) + "\n"
