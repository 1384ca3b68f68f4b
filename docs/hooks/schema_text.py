"""JSON Schema, as the reference pages print it: a type in words and a table of fields.

The events page and the REST API page both describe msgspec Structs through their JSON Schema,
so a field's type on the page is exactly what the wire carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Schema = Mapping[str, Any]
Link = Callable[[str], str]
"""Turns a component name into the Markdown that names it (a link to its section)."""

_REF_PREFIX = "#/components/schemas/"
_BOUNDS = {
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
    "minLength": "length >=",
    "maxLength": "length <=",
}


def type_text(schema: Schema, link: Link) -> str:
    """`schema` as a short type expression: `string`, `integer >= 1`, `list of Usage`, ..."""
    if "$ref" in schema:
        return link(str(schema["$ref"]).removeprefix(_REF_PREFIX))
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(type_text(option, link) for option in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " \\| ".join(type_text({**schema, "type": one}, link) for one in kind)
    if kind == "array":
        items = schema.get("items")
        return f"list of {type_text(items, link)}" if items else "list"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return f"map of string to {type_text(schema['additionalProperties'], link)}"
    text = str(kind or "any")
    bounds = [f"{word} {schema[key]:g}" for key, word in _BOUNDS.items() if key in schema]
    return " ".join([text, *bounds]) if bounds else text


def default_text(schema: Schema, required: bool) -> str:
    """What a reader may leave out: `required`, or the default it then takes."""
    if required:
        return "required"
    if "default" in schema:
        return f"`{json.dumps(schema['default'])}`"
    return "optional"


def fields_table(schema: Schema, link: Link, *, skip: frozenset[str] = frozenset()) -> str:
    """A Markdown table of an object schema's properties: name, type, default."""
    required = set(schema.get("required", ()))
    rows = ["| field | type | default |", "| --- | --- | --- |"]
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        rows.append(
            f"| `{name}` | {type_text(prop, link)} | {default_text(prop, name in required)} |"
        )
    return "\n".join(rows)


def anchor(name: str) -> str:
    """The heading id a component's section gets, for links between sections."""
    return name.lower()
