"""Extract the request schemas the OpenAI emulator validates against from OpenAI's OpenAPI spec.

    uv run python providers/openai/scripts/extract_schemas.py [SPEC]

SPEC defaults to the first `shared/specs/openapi.yaml` found beside the workspace or a folder
above it (OpenAI's official spec, openai/openai-openapi). Each request schema is written with
every component it references, as one JSON Schema (draft 2020-12, which OpenAPI 3.1 uses)
under `$defs`, into `src/batchery_openai/emulator/schemas/`. Re-run it when the spec is
updated; the emulator never re-types a schema by hand.

Two rewrites keep the schema's meaning where a plain JSON Schema validator would read it
differently: `nullable: true`, an OpenAPI 3.0 keyword the spec still carries, becomes an
explicit `null` alternative; and prose-only keywords (descriptions, examples, `x-*`) are
dropped to keep the files small. Each file also lists the top level's property names, because
the chat schema is an `allOf` (so it cannot say `additionalProperties: false`) while the real
API refuses arguments it does not know.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC_PATH = Path("shared", "specs", "openapi.yaml")
TARGET = ROOT / "providers" / "openai" / "src" / "batchery_openai" / "emulator" / "schemas"

REQUESTS = {
    "chat_completions": "CreateChatCompletionRequest",
    "embeddings": "CreateEmbeddingRequest",
}
"""Output file stem, and the component schema of the request body it holds."""

_PROSE = frozenset({"description", "example", "examples", "title", "deprecated", "default"})
_PREFIX = "#/components/schemas/"


def _clean(node: Any) -> Any:
    """`node` without prose keywords, `nullable` made explicit, refs pointing into `$defs`."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _clean(schema) for name, schema in value.items()}
        elif key == "$ref":
            out[key] = "#/$defs/" + value.removeprefix(_PREFIX)
        elif key in _PROSE or key.startswith("x-") or key in ("nullable", "discriminator"):
            continue
        else:
            out[key] = _clean(value)
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.removeprefix(_PREFIX))
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def _closure(components: dict[str, Any], root: str) -> list[str]:
    """`root` and every component it reaches through `$ref`, sorted."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _references(components[name], found)
        todo.extend(found - seen)
    return sorted(seen)


def _top_level_properties(components: dict[str, Any], name: str) -> list[str]:
    """Every property the request object can have, following its `allOf` parts."""
    schema = components[name]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            names.update(_top_level_properties(components, part["$ref"].removeprefix(_PREFIX)))
        names.update(part.get("properties", {}))
    return sorted(names)


def bundle(spec: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    components = spec["components"]["schemas"]
    return {
        "source": source,
        "request": name,
        "properties": _top_level_properties(components, name),
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/$defs/{name}",
            "$defs": {part: _clean(components[part]) for part in _closure(components, name)},
        },
    }


def find_spec() -> Path:
    for folder in ROOT.parents:
        if (folder / SPEC_PATH).is_file():
            return folder / SPEC_PATH
    raise SystemExit(f"no {SPEC_PATH} beside {ROOT} or above it; pass the spec's path")


def main(argv: list[str]) -> int:
    spec_path = Path(argv[1]) if len(argv) > 1 else find_spec()
    raw = spec_path.read_bytes()
    spec = yaml.load(raw, Loader=yaml.CSafeLoader)
    digest = hashlib.sha256(raw).hexdigest()
    source = f"openai/openai-openapi openapi.yaml {spec['info']['version']}, sha256 {digest}"
    TARGET.mkdir(parents=True, exist_ok=True)
    for stem, name in REQUESTS.items():
        path = TARGET / f"{stem}.json"
        text = json.dumps(bundle(spec, name, source), indent=1, sort_keys=True) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {name}, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
