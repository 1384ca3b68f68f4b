import array
import math
from collections.abc import Mapping
from typing import Any

import pytest
from batchery.emulator import (
    content_text,
    embedding_vector,
    request_seed,
    schema_answer,
    text_answer,
)


def check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """A small JSON-schema validator for the keywords the generator claims to honour."""
    if "$ref" in schema:
        target: Any = root
        for token in schema["$ref"][2:].split("/"):
            target = target[token]
        check(value, target, root)
        return
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = 0
            for option in schema[key]:
                try:
                    check(value, option, root)
                    matches += 1
                except AssertionError:
                    pass
            assert matches == 1 if key == "oneOf" else matches >= 1
    for part in schema.get("allOf", []):
        check(value, part, root)
    kinds = schema.get("type")
    if kinds is None:
        return
    kinds = kinds if isinstance(kinds, list) else [kinds]
    python = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "null": type(None),
    }
    assert any(
        isinstance(value, python[k]) and not (k in ("integer", "number") and value is True)
        for k in kinds
    ), (value, kinds)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, key
        for key, item in value.items():
            if key in properties:
                check(item, properties[key], root)
            else:
                extra = schema.get("additionalProperties", True)
                assert extra is not False, key
                if isinstance(extra, Mapping):
                    check(item, extra, root)
    elif isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0)
        assert len(value) <= schema.get("maxItems", len(value))
        if schema.get("uniqueItems"):
            assert len({repr(v) for v in value}) == len(value)
        for item in value:
            check(item, schema.get("items", {}), root)
    elif isinstance(value, str):
        assert schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        assert value >= schema.get("minimum", -math.inf)
        assert value <= schema.get("maximum", math.inf)
        assert value > schema.get("exclusiveMinimum", -math.inf)
        assert value < schema.get("exclusiveMaximum", math.inf)
        if "multipleOf" in schema:
            assert value % schema["multipleOf"] == 0


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["supported", "refuted", "unclear"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
            "nested": {
                "type": "object",
                "properties": {
                    "deep": {"type": "object", "properties": {"x": {"type": "integer"}}}
                },
                "required": ["deep"],
                "additionalProperties": False,
            },
        },
        "required": ["verdict", "confidence", "score", "flag", "tags", "nested"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Atom": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 5, "maxLength": 12},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
                "required": ["text", "note"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {"atoms": {"type": "array", "items": {"$ref": "#/$defs/Atom"}}},
        "required": ["atoms"],
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3]}, "uniqueItems": True},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
    {"type": "integer", "multipleOf": 7, "minimum": 10, "maximum": 30},
    {"type": ["string", "null"], "format": "date-time"},
    {"const": "fixed"},
    {"oneOf": [{"type": "boolean"}, {"type": "null"}]},
    {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"required": ["b"], "properties": {"b": {"type": "string"}}},
        ]
    },
    {"type": "object", "additionalProperties": {"type": "number", "maximum": -5}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("seed", [0, 1, 2, 99, 12345])
def test_schema_answers_validate(schema: dict[str, Any], seed: int) -> None:
    check(schema_answer(schema, seed), schema, schema)


def test_the_validator_can_fail() -> None:
    with pytest.raises(AssertionError):
        check({"verdict": "maybe"}, SCHEMAS[0], SCHEMAS[0])


def test_recursive_schemas_terminate() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                },
                "required": ["parent"],
            }
        },
        "$ref": "#/$defs/Node",
    }
    check(schema_answer(schema, 5), schema, schema)


def test_schema_answers_are_deterministic_and_vary_with_the_seed() -> None:
    schema = SCHEMAS[0]
    assert schema_answer(schema, 42) == schema_answer(schema, 42)
    assert len({repr(schema_answer(schema, s)) for s in range(20)}) > 10


def test_text_answer_is_deterministic_and_derived_from_the_prompt() -> None:
    first = text_answer("Summarise the history of Rome", 1)
    assert first == text_answer("Summarise the history of Rome", 1)
    assert "Summarise the history of Rome" in first
    assert first != text_answer("Summarise the history of Rome", 2)


def test_request_seed_ignores_key_order_but_not_content() -> None:
    assert request_seed({"a": 1, "b": [1, 2]}) == request_seed({"b": [1, 2], "a": 1})
    assert request_seed({"a": 1}) != request_seed({"a": 2})


@pytest.mark.parametrize("dimensions", [1, 3, 256, 1536])
def test_embeddings_are_unit_length_float32_and_deterministic(dimensions: int) -> None:
    vector = embedding_vector("hello", dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-5)
    assert list(array.array("f", vector)) == vector
    assert vector == embedding_vector("hello", dimensions)
    if dimensions > 1:
        assert vector != embedding_vector("hullo", dimensions)


def test_embedding_dimensions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        embedding_vector("x", 0)


def test_content_text_reads_a_string_or_the_text_parts_of_a_list() -> None:
    assert content_text("hello") == "hello"
    parts = [{"type": "text", "text": "one"}, {"type": "image"}, "stray", {"text": "two"}]
    assert content_text(parts) == "one  two"
    assert content_text(None) == ""
