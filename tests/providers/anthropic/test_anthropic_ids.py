"""custom_id mapping: Anthropic's alphabet on the wire, the caller's id back, with no memory."""

from __future__ import annotations

import re

import pytest
from batchery_anthropic import from_wire, id_problem, to_wire
from batchery_anthropic._ids import ENCODED_PREFIX, MAX_ENCODED_BYTES

WIRE = re.compile(r"[a-zA-Z0-9_-]{1,64}")

PLAIN = ["a", "007", "plain-id", "under_score", "-dash", "Case", "case", "x" * 64]
AWKWARD = [
    "with space",
    "slash/and?query=1&x#frag",
    'quote"and\\backslash',
    "ключ-юникод",
    "日本語の鍵",
    "emoji-🎉",
    "trailing.dot.",
    "%2F",
    "x" * 43 + ".",
    "é" * 22,
]
LOOKALIKES = [
    ENCODED_PREFIX,
    ENCODED_PREFIX + "aGVsbG8",
    ENCODED_PREFIX + to_wire("with space")[len(ENCODED_PREFIX) :],
    to_wire("with space"),
    "_b64",
    "_B64_aGVsbG8",
]


@pytest.mark.parametrize("custom_id", PLAIN)
def test_valid_ids_go_unchanged(custom_id: str) -> None:
    assert id_problem(custom_id) is None
    assert to_wire(custom_id) == custom_id
    assert from_wire(custom_id) == custom_id


@pytest.mark.parametrize("custom_id", AWKWARD + LOOKALIKES)
def test_other_ids_are_encoded_and_come_back(custom_id: str) -> None:
    assert id_problem(custom_id) is None
    wire = to_wire(custom_id)
    assert WIRE.fullmatch(wire), wire
    assert from_wire(wire) == custom_id


@pytest.mark.parametrize("custom_id", LOOKALIKES[:4])
def test_ids_that_look_encoded_are_encoded_again(custom_id: str) -> None:
    wire = to_wire(custom_id)
    assert wire != custom_id
    assert wire.startswith(ENCODED_PREFIX)
    assert from_wire(wire) == custom_id


def test_no_two_ids_share_a_wire_id() -> None:
    ids = PLAIN + AWKWARD + LOOKALIKES + ["hello", "aGVsbG8"]
    wires = [to_wire(i) for i in ids]
    assert len(set(wires)) == len(set(ids))


def test_the_mapping_needs_nothing_but_the_wire_id() -> None:
    """A fresh process (no state at all) decodes what another one encoded."""
    wire = ENCODED_PREFIX + "d2l0aCBzcGFjZQ"
    assert from_wire(wire) == "with space"


@pytest.mark.parametrize(
    "wire",
    [
        ENCODED_PREFIX + "aGVsbG8",  # "hello" is sent plain, so this is no id's encoding
        ENCODED_PREFIX + "!!!",
        ENCODED_PREFIX + "a",  # not a base64 length
        ENCODED_PREFIX + "_w",  # bytes that are not UTF-8
        ENCODED_PREFIX + "d2l0aCBzcGFjZR",  # non-canonical trailing bits
        "has space",
        "",
    ],
)
def test_wire_ids_no_id_maps_to_are_refused(wire: str) -> None:
    assert from_wire(wire) is None


def test_ids_too_long_to_encode_are_refused_with_the_rule() -> None:
    longest = "é" * (MAX_ENCODED_BYTES // 2)
    assert id_problem(longest) is None
    assert len(to_wire(longest)) <= 64
    too_long = "é" * (MAX_ENCODED_BYTES // 2 + 1)
    problem = id_problem(too_long)
    assert problem is not None
    assert f"at most {MAX_ENCODED_BYTES} UTF-8 bytes" in problem
    assert "letters, digits" in problem
    with pytest.raises(ValueError, match="too long"):
        to_wire(too_long)
    assert id_problem("y" * 512) is not None
    assert id_problem(ENCODED_PREFIX + "x" * 59) is not None
    assert id_problem("") == "custom_id must not be empty"
    assert id_problem("\ud800") == "custom_id is not valid Unicode text"
