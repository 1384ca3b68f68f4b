"""Deterministic fake answers: text for a prompt, JSON for a schema, unit embedding vectors.

Every answer is a pure function of a seed, and emulators derive the seed from a hash of the
request (`request_seed`), so the same request gets the same answer in batch and in realtime, on
every run, which lets tests compare the two paths and assert exact results.
"""

from __future__ import annotations

import array
import hashlib
import math
import random
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["content_text", "embedding_vector", "request_seed", "schema_answer", "text_answer"]

_WORDS = (
    "amber", "basin", "cedar", "delta", "ember", "fjord", "grove", "harbor", "island", "juniper",
    "kestrel", "lagoon", "meadow", "nectar", "orchid", "prairie", "quartz", "river", "summit",
    "tundra", "umber", "valley", "willow", "xenon", "yarrow", "zephyr",
)  # fmt: skip

_MAX_DEPTH = 8
"""Below this nesting depth a schema answer fills optional fields too; beyond it, only required."""


def content_text(content: Any) -> str:
    """The text of a chat message's `content`: a string, or a list of parts whose `text` joins."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def request_seed(*parts: object) -> int:
    """A 64-bit seed from a hash of JSON-encodable parts (dict key order does not matter)."""
    encoded = msgspec.json.encode(parts, order="sorted")
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "big")


def text_answer(prompt: str, seed: int, *, words: int = 12) -> str:
    """A short reply that quotes the start of `prompt`, followed by `words` seeded words."""
    rng = random.Random(seed)
    gist = " ".join(prompt.split()[:6])
    if len(gist) > 48:
        gist = gist[:47] + "…"
    body = " ".join(rng.choice(_WORDS) for _ in range(max(0, words)))
    return f'Emulated reply to "{gist}": {body}.'


def embedding_vector(key: str, dimensions: int, *, seed: int = 0) -> list[float]:
    """A unit-length vector for `key`; its components are exact float32 values.

    Float32 exactness means the JSON float form and the base64 little-endian float32 form of the
    same vector decode to identical numbers.
    """
    if dimensions < 1:
        raise ValueError(f"dimensions must be at least 1, got {dimensions}")
    rng = random.Random(request_seed("embedding", seed, key))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return list(array.array("f", (x / norm for x in raw)))


def schema_answer(schema: Mapping[str, Any], seed: int) -> Any:
    """A value valid for the JSON schema `schema`.

    Understood: `type` (one or a list), `enum`, `const`, object `properties`/`required`/
    `additionalProperties`, array `items`/`prefixItems`/`minItems`/`maxItems`/`uniqueItems`,
    string `minLength`/`maxLength`/`format`, number and integer bounds (inclusive and exclusive)
    and `multipleOf`, `anyOf`/`oneOf`/`allOf`, and local `$ref` into `$defs` or `definitions`.
    A string `pattern` is not honoured.
    """
    return _Generator(schema, random.Random(seed)).value(schema, 0, "value")


class _Generator:
    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self._root = root
        self._rng = rng

    def value(self, schema: Any, depth: int, name: str) -> Any:
        if not isinstance(schema, Mapping):
            return self._string({}, name)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._rng.choice(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.value(self._choose(schema[key], depth), depth, name)
        if "allOf" in schema:
            return self.value(_merge(self._resolve(part) for part in schema["allOf"]), depth, name)
        kind = self._type_of(schema, depth)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth, name)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return self._rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, name)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            ref = str(schema["$ref"])
            if not ref.startswith("#"):
                raise ValueError(f"only local $ref values are supported, got {ref!r}")
            target: Any = self._root
            for token in filter(None, ref[1:].split("/")):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            schema = target
            seen += 1
        return schema

    def _choose(self, options: list[Any], depth: int) -> Any:
        resolved = [self._resolve(o) if isinstance(o, Mapping) else o for o in options]
        not_null = [o for o in resolved if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if depth >= _MAX_DEPTH and len(not_null) < len(resolved):
            return {"type": "null"}
        return (not_null or resolved)[0]

    def _type_of(self, schema: Mapping[str, Any], depth: int) -> str:
        declared = schema.get("type")
        if isinstance(declared, list):
            kinds = [str(k) for k in declared]
            if depth >= _MAX_DEPTH and "null" in kinds:
                return "null"
            return next((k for k in kinds if k != "null"), "null")
        if isinstance(declared, str):
            return declared
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        out: dict[str, Any] = {}
        for key, sub in properties.items():
            if key in required or depth < _MAX_DEPTH:
                out[key] = self.value(sub, depth + 1, key)
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, Mapping) and depth < _MAX_DEPTH:
            out["key_1"] = self.value(extra, depth + 1, "key_1")
        return out

    def _array(self, schema: Mapping[str, Any], depth: int, name: str) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = low if depth >= _MAX_DEPTH else max(low, min(high, self._rng.randint(1, 3)))
        prefix: list[Any] = list(schema.get("prefixItems") or [])
        items = schema.get("items", {})
        out: list[Any] = []
        seen: set[bytes] = set()
        for _ in range(count * 8 + 8):
            if len(out) >= count:
                break
            index = len(out)
            sub = prefix[index] if index < len(prefix) else items
            item = self.value(sub, depth + 1, f"{name}_{index + 1}")
            if schema.get("uniqueItems"):
                fingerprint = msgspec.json.encode(item, order="sorted")
                if fingerprint in seen:
                    continue
                seen.add(fingerprint)
            out.append(item)
        return out

    def _integer(self, schema: Mapping[str, Any]) -> int:
        low = schema.get("minimum")
        high = schema.get("maximum")
        if "exclusiveMinimum" in schema:
            low = math.floor(schema["exclusiveMinimum"]) + 1
        if "exclusiveMaximum" in schema:
            high = math.ceil(schema["exclusiveMaximum"]) - 1
        lo = math.ceil(low) if low is not None else None
        hi = math.floor(high) if high is not None else None
        lo, hi = _span(lo, hi, 100)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = -(-int(lo) // step) * step
            last = (int(hi) // step) * step
            if first <= last:
                return first + step * self._rng.randint(0, (last - first) // step)
        return self._rng.randint(int(lo), int(hi))

    def _number(self, schema: Mapping[str, Any]) -> float:
        ex_low = schema.get("exclusiveMinimum")
        ex_high = schema.get("exclusiveMaximum")
        low = schema.get("minimum", ex_low)
        high = schema.get("maximum", ex_high)
        lo, hi = _span(low, high, 100.0)
        value = round(self._rng.uniform(float(lo), float(hi)), 3)
        too_low = value < lo or (ex_low is not None and value <= ex_low)
        too_high = value > hi or (ex_high is not None and value >= ex_high)
        return (float(lo) + float(hi)) / 2.0 if too_low or too_high else value

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        rng = self._rng
        if fmt == "date-time":
            text = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
        elif fmt == "date":
            text = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif fmt == "email":
            text = f"{rng.choice(_WORDS)}@example.com"
        elif fmt in ("uri", "url"):
            text = f"https://example.com/{rng.choice(_WORDS)}"
        elif fmt == "uuid":
            text = str(_uuid(rng))
        else:
            text = f"{name} {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if len(text) < low:
            text += "x" * (low - len(text))
        return text[: int(high)] if high is not None else text


def _span(low: Any, high: Any, width: float) -> tuple[Any, Any]:
    if low is None and high is None:
        return 0, width
    if low is None:
        return high - width, high
    if high is None:
        return low, low + width
    return low, high


def _merge(parts: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in parts:
        merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        properties.update(part.get("properties") or {})
        required.extend(part.get("required") or ())
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _uuid(rng: random.Random) -> str:
    hexes = f"{rng.getrandbits(128):032x}"
    return f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-a{hexes[17:20]}-{hexes[20:]}"
