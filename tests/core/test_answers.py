"""Parsing JSON answers with recovery, the schema subset they are checked against, and prompts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from batchery.answers import (
    CODE_FENCE,
    SURROUNDING_PROSE,
    TRUNCATED_TAIL,
    AnswerError,
    PromptError,
    PromptTemplate,
    SchemaError,
    check_schema,
    job_id_for,
    parse_answer,
    schema_errors,
)

ATOMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["atoms"],
    "properties": {
        "atoms": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["statement", "confidence"],
                "properties": {
                    "statement": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        }
    },
}
VALUE = {
    "atoms": [
        {"statement": "a refund, once approved, is paid in 3 days", "confidence": 0.9},
        {"statement": 'the "Pay" button [main] is disabled {until valid}', "confidence": 0.25},
        {"statement": "a receipt is e-mailed", "confidence": 0.5},
    ]
}
CLEAN = json.dumps(VALUE)


def test_a_clean_answer_needs_no_repair() -> None:
    parsed = parse_answer(f"  {CLEAN}\n", ATOMS)
    assert parsed.value == VALUE
    assert parsed.repairs == ()


@pytest.mark.parametrize(
    ("text", "repairs"),
    [
        (f"```json\n{CLEAN}\n```", (CODE_FENCE,)),
        (f"```\n{CLEAN}```", (CODE_FENCE,)),
        (f"Here you go:\n```json\n{CLEAN}\n```\nAnything else?", (CODE_FENCE, SURROUNDING_PROSE)),
        (f"Here is the JSON you asked for: {CLEAN}", (SURROUNDING_PROSE,)),
        (f"{CLEAN}\nI hope this {{helps}}.", (SURROUNDING_PROSE,)),
        (f"Braces {{like these}} and [these] first, then: {CLEAN} done", (SURROUNDING_PROSE,)),
    ],
)
def test_fences_and_surrounding_prose_are_removed(text: str, repairs: tuple[str, ...]) -> None:
    parsed = parse_answer(text, ATOMS)
    assert parsed.value == VALUE
    assert parsed.repairs == repairs


def test_a_string_that_mentions_a_fence_is_not_taken_for_one() -> None:
    value = {"atoms": [{"statement": "prints ```x``` verbatim", "confidence": 1}]}
    parsed = parse_answer("Answer: " + json.dumps(value), ATOMS)
    assert parsed.value == value
    assert parsed.repairs == (SURROUNDING_PROSE,)


def test_a_cut_off_tail_keeps_only_the_atoms_that_arrived_whole() -> None:
    cut = CLEAN[: CLEAN.index("a receipt") + 4]
    parsed = parse_answer(cut, ATOMS)
    assert parsed.value == {"atoms": VALUE["atoms"][:2]}
    assert parsed.repairs == (TRUNCATED_TAIL,)


@pytest.mark.parametrize(
    ("wrap", "repairs"),
    [
        ("```json\n{}", (CODE_FENCE, TRUNCATED_TAIL)),
        ("Sure, here it is: {}", (SURROUNDING_PROSE, TRUNCATED_TAIL)),
    ],
)
def test_a_cut_off_tail_is_repaired_inside_a_fence_or_after_prose(
    wrap: str, repairs: tuple[str, ...]
) -> None:
    cut = CLEAN[: CLEAN.index("a receipt")]
    parsed = parse_answer(wrap.replace("{}", cut), ATOMS)
    assert parsed.value == {"atoms": VALUE["atoms"][:2]}
    assert parsed.repairs == repairs


def test_a_trailing_number_or_string_is_dropped_as_possibly_incomplete() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    assert parse_answer("[10, 20, 3", schema).value == [10, 20]
    words = {"type": "array", "items": {"type": "string"}}
    assert parse_answer('["alpha", "be', words).value == ["alpha"]


def test_a_cut_off_scalar_inside_an_object_is_not_completed() -> None:
    schema = {
        "type": "object",
        "required": ["score"],
        "properties": {"score": {"type": "integer"}, "note": {"type": "string"}},
    }
    parsed = parse_answer('{"score": 73, "note": "mostly fi', schema)
    assert parsed.value == {"score": 73}
    with pytest.raises(AnswerError, match="cut short"):
        parse_answer('{"score": 7', schema)


@pytest.mark.parametrize(
    "cut",
    [
        CLEAN[:12],
        CLEAN[: CLEAN.index("confidence")],
        "```json\n" + CLEAN[:30],
    ],
)
def test_a_tail_that_cannot_be_repaired_into_a_valid_answer_fails(cut: str) -> None:
    with pytest.raises(AnswerError, match="cut short and no complete part"):
        parse_answer(cut, ATOMS)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the answer is empty"),
        ("   \n", "the answer is empty"),
        (None, "the answer is empty"),
        ("I am sorry, I cannot help with that.", "no JSON value was found"),
        ('{"atoms": [}', "not valid JSON"),
        ('{"atoms": []}', r"\$\.atoms: 0 items, fewer than the minimum 1"),
        (
            '{"atoms": [{"statement": "x", "confidence": 2}]}',
            r"\$\.atoms\[0\]\.confidence: 2 is above the maximum 1",
        ),
        ('Here: {"atoms": [{"statement": "x"}]}', "required property 'confidence' is missing"),
    ],
)
def test_damage_that_cannot_be_repaired_says_why(text: str | None, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason):
        parse_answer(text, ATOMS)


def test_a_wrapped_answer_is_not_unwrapped() -> None:
    with pytest.raises(AnswerError, match="property 'result' is not allowed"):
        parse_answer(json.dumps({"result": VALUE}), ATOMS)


@pytest.mark.parametrize(
    ("value", "schema", "problem"),
    [
        (3.5, {"type": "integer"}, "expected integer, got number"),
        (True, {"type": "integer"}, "expected integer, got boolean"),
        ("x", {"type": ["integer", "null"]}, "expected integer or null, got string"),
        ("maybe", {"enum": ["yes", "no"]}, "'maybe' is not one of 'yes', 'no'"),
        (2, {"const": 1}, "2 is not 1"),
        ("abc", {"type": "string", "maxLength": 2}, "3 characters, more than the maximum 2"),
        ("", {"type": "string", "minLength": 1}, "0 characters, fewer than the minimum 1"),
        (5, {"type": "number", "exclusiveMaximum": 5}, "not below the exclusive maximum 5"),
        (0, {"type": "number", "exclusiveMinimum": 0}, "not above the exclusive minimum 0"),
        ([1, 2, 3], {"type": "array", "maxItems": 2}, "3 items, more than the maximum 2"),
        ({"a": 1}, {"additionalProperties": {"type": "string"}}, r"\$\.a: expected string"),
    ],
)
def test_schema_errors_name_the_path_and_the_rule(value: Any, schema: Any, problem: str) -> None:
    [error] = schema_errors(value, schema)
    assert error.startswith("$")
    assert re.search(problem, error), error


def test_whole_floats_count_as_integers_and_valid_values_have_no_errors() -> None:
    assert schema_errors(3.0, {"type": "integer", "minimum": 0, "maximum": 100}) == []
    assert schema_errors(VALUE, ATOMS) == []


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "object", "anyOf": []}, "uses 'anyOf'"),
        ({"properties": {"x": {"pattern": "^a"}}}, r"\$\.properties\.x uses 'pattern'"),
        ({"type": "decimal"}, "unknown type 'decimal'"),
        ({"items": "string"}, None),
    ],
)
def test_a_schema_outside_the_subset_is_refused(schema: Any, problem: str | None) -> None:
    if problem is None:
        check_schema(schema)
        return
    with pytest.raises(SchemaError, match=problem):
        check_schema(schema)
    with pytest.raises(SchemaError):
        parse_answer("{}", schema)


def test_annotations_are_allowed_and_not_checked() -> None:
    schema = {"title": "t", "description": "d", "type": "string", "format": "email"}
    check_schema(schema)
    assert parse_answer('"not an e-mail"', schema).value == "not an e-mail"


def test_prompt_templates_fill_named_fields_and_leave_json_braces_alone() -> None:
    template = PromptTemplate(
        "prompt",
        'Text: $text\nCost: $$5\nAnswer like {"a": 1} for ${kind}s.',
        fields=("text", "kind"),
    )
    rendered = template.render(text="hello", kind="test case")
    assert rendered == 'Text: hello\nCost: $5\nAnswer like {"a": 1} for test cases.'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Item: $txt",
            r"prompt 'prompt' uses \$txt, which is not one of its fields \(\$kind, \$text\)",
        ),
        ("Kind: $kind", r"prompt 'prompt' must use \$text"),
        ("Costs $5: $text", r"has a '\$' that starts no field name \(at '\$5: \$text'\)"),
    ],
)
def test_a_bad_prompt_template_is_refused_with_its_name(text: str, problem: str) -> None:
    with pytest.raises(PromptError, match=problem):
        PromptTemplate("prompt", text, fields=("text", "kind"), required=("text",))


def test_round_job_ids_start_with_the_run_id() -> None:
    assert [job_id_for("node-1a", n) for n in (1, 2, 3)] == [
        "node-1a-1",
        "node-1a-retry1",
        "node-1a-retry2",
    ]
