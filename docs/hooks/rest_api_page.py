"""The REST API reference, from the OpenAPI document the progress server itself serves.

The Litestar app is built (never started) and its `/schema/openapi.json` document is rendered:
every path and method, its parameters, its answers, and every schema they name.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import msgspec
from batchery.modules import Application
from batchery.server.app import create_app
from batchery.server.config import ServerConfig
from schema_text import Schema, anchor, fields_table, type_text

_METHODS = ("get", "post", "put", "patch", "delete")


async def _never_started() -> Application:
    raise RuntimeError("the reference only reads the OpenAPI document; the app never starts")


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The server's OpenAPI document, as `GET /schema/openapi.json` returns it."""
    app = create_app(ServerConfig(), _never_started)
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def _link(name: str) -> str:
    return f"[{name}](#{anchor(name)})"


def _parameters(operation: Schema) -> list[str]:
    params = operation.get("parameters", [])
    if not params:
        return []
    rows = ["| parameter | in | type | required |", "| --- | --- | --- | --- |"]
    rows += [
        f"| `{p['name']}` | {p['in']} | {type_text(p.get('schema', {}), _link)} "
        f"| {'yes' if p.get('required') else 'no'} |"
        for p in params
    ]
    return [*rows, ""]


def _body(operation: Schema) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    return [
        f"Request body (`{kind}`): {type_text(media.get('schema', {}), _link)}"
        for kind, media in content.items()
    ] + ([""] if content else [])


def _responses(operation: Schema) -> list[str]:
    rows = ["| status | body | meaning |", "| --- | --- | --- |"]
    for status, answer in operation.get("responses", {}).items():
        content = answer.get("content", {})
        body = ", ".join(
            f"{type_text(media.get('schema', {}), _link)} (`{kind}`)"
            for kind, media in content.items()
        )
        rows.append(f"| {status} | {body or '-'} | {answer.get('description', '')} |")
    return [*rows, ""]


def _operation(path: str, method: str, operation: Schema) -> list[str]:
    secured = "bearer token" if operation.get("security") else "no token"
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        lines += [f"{operation['summary']} ({secured}).", ""]
    if operation.get("description"):
        lines += [inspect.cleandoc(operation["description"]), ""]
    return lines + _parameters(operation) + _body(operation) + _responses(operation)


def render() -> str:
    """The page's Markdown."""
    document = openapi_document()
    lines = [
        "# REST API",
        "",
        "Generated from the progress server's own OpenAPI document when the site is built;",
        "a running `batchery serve` serves the same document at `/schema/openapi.json` (here:",
        f"[openapi.json](openapi.json), OpenAPI {document['openapi']}). Authentication, tenants",
        "and the WebSocket feed are described in [Progress](../progress.md).",
        "",
        "## Endpoints",
        "",
    ]
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                lines += _operation(path, method, item[method])
    lines += ["## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += [f"### {name} {{ #{anchor(name)} }}", ""]
        if schema.get("description"):
            lines += [inspect.cleandoc(schema["description"]), ""]
        if "properties" in schema:
            lines += [fields_table(schema, _link), ""]
        else:
            lines += [type_text(schema, _link), ""]
    return "\n".join(lines)


def openapi_json() -> str:
    """The OpenAPI document served beside the page."""
    return msgspec.json.format(msgspec.json.encode(openapi_document()), indent=2).decode() + "\n"
