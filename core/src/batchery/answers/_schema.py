"""The JSON-schema subset answers are checked against: what structured output needs, no more.

A keyword outside the subset is refused rather than skipped, so a schema never looks enforced
while part of it is silently ignored. Annotations (`title`, `description`, `format`, ...) are
allowed and not checked, as JSON Schema itself treats them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["SchemaError", "check_schema", "schema_errors"]

_CHECKED = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    }
)
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "format"}
)
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


class SchemaError(ValueError):
    """The schema uses a keyword or shape this validator does not understand."""


def check_schema(schema: Mapping[str, Any], path: str = "$") -> None:
    """Raise `SchemaError` naming the first unsupported keyword or malformed part of `schema`."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"schema at {path} must be an object, not {type(schema).__name__}")
    for key in schema:
        if key not in _CHECKED and key not in _ANNOTATIONS:
            raise SchemaError(f"schema at {path} uses {key!r}, which answers are not checked for")
    kinds = schema.get("type")
    for kind in [kinds] if isinstance(kinds, str) else kinds or ():
        if kind not in _TYPES:
            raise SchemaError(f"schema at {path} has unknown type {kind!r}")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{path}.properties.{name}")
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            check_schema(sub, f"{path}.{key}")


def schema_errors(value: Any, schema: Mapping[str, Any], *, limit: int = 3) -> list[str]:
    """Up to `limit` ways `value` breaks `schema`, each naming its JSON path; empty when valid."""
    found: list[str] = []
    for problem in _problems(value, schema, "$"):
        found.append(problem)
        if len(found) >= limit:
            break
    return found


def _problems(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if "const" in schema and value != schema["const"]:
        yield f"{path}: {_show(value)} is not {_show(schema['const'])}"
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_show(v) for v in schema["enum"])
        yield f"{path}: {_show(value)} is not one of {allowed}"
        return
    kinds = schema.get("type")
    if kinds is not None:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is_type(value, kind) for kind in wanted):
            yield f"{path}: expected {' or '.join(wanted)}, got {_type_name(value)}"
            return
    if isinstance(value, dict):
        yield from _object_problems(value, schema, path)
    elif isinstance(value, list):
        yield from _array_problems(value, schema, path)
    elif isinstance(value, str):
        yield from _string_problems(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number_problems(value, schema, path)


def _object_problems(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> Iterator[str]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in value:
            yield f"{path}: the required property {name!r} is missing"
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            yield from _problems(item, properties[name], f"{path}.{name}")
        elif extra is False:
            yield f"{path}: property {name!r} is not allowed"
        elif isinstance(extra, Mapping):
            yield from _problems(item, extra, f"{path}.{name}")


def _array_problems(value: list[Any], schema: Mapping[str, Any], path: str) -> Iterator[str]:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and len(value) < low:
        yield f"{path}: {len(value)} items, fewer than the minimum {low}"
    if high is not None and len(value) > high:
        yield f"{path}: {len(value)} items, more than the maximum {high}"
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            yield from _problems(item, items, f"{path}[{index}]")


def _string_problems(value: str, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and len(value) < low:
        yield f"{path}: {len(value)} characters, fewer than the minimum {low}"
    if high is not None and len(value) > high:
        yield f"{path}: {len(value)} characters, more than the maximum {high}"


def _number_problems(value: float, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    if not math.isfinite(value):
        yield f"{path}: {value} is not a finite number"
        return
    bounds: Sequence[tuple[str, str, bool]] = (
        ("minimum", "below the minimum", value < schema.get("minimum", -math.inf)),
        ("maximum", "above the maximum", value > schema.get("maximum", math.inf)),
        (
            "exclusiveMinimum",
            "not above the exclusive minimum",
            value <= schema.get("exclusiveMinimum", -math.inf),
        ),
        (
            "exclusiveMaximum",
            "not below the exclusive maximum",
            value >= schema.get("exclusiveMaximum", math.inf),
        ),
    )
    for key, words, broken in bounds:
        if broken:
            yield f"{path}: {_show(value)} is {words} {_show(schema[key])}"


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {"object": dict, "array": list, "string": str, "boolean": bool}.get(kind)
    if expected is not None:
        return isinstance(value, expected)
    return kind == "null" and value is None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {dict: "object", list: "array", str: "string", int: "integer", float: "number"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
