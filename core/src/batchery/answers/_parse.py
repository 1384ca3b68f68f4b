"""Turn a model's text into a value valid for a JSON schema, recovering what models get wrong.

Models asked for JSON still wrap it in Markdown code fences, put a sentence before or after
it, or stop mid-answer at a token limit. Each of these is undone here, and every undo is named
in `ParsedAnswer.repairs` so a caller can tell a clean answer from a rescued one. A cut-off
tail is repaired conservatively: only values that arrived whole are kept (a trailing number
or string may be incomplete, so it is dropped), open containers are closed, and the result is
accepted only when it validates against the schema; otherwise the answer is unparsable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from batchery.answers._schema import check_schema, schema_errors

__all__ = [
    "CODE_FENCE",
    "SURROUNDING_PROSE",
    "TRUNCATED_TAIL",
    "AnswerError",
    "ParsedAnswer",
    "parse_answer",
]

CODE_FENCE = "code_fence"
SURROUNDING_PROSE = "surrounding_prose"
TRUNCATED_TAIL = "truncated_tail"

_FENCE = re.compile(r"```[A-Za-z0-9_+.-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_PAIRS = {"{": "}", "[": "]"}
_MISMATCH = "mismatch"
_MAX_STARTS = 32
"""How many opening brackets in surrounding prose are tried as the start of the answer."""
_MAX_CUTS = 512
"""How many cut points of a truncated answer are tried, latest first."""

# Problems rank by how much they tell the reader: a value of the wrong shape says more than
# a cut-off answer, which says more than text that is not JSON at all.
_SHAPE, _CUT, _SYNTAX, _NOTHING = range(4)


class AnswerError(ValueError):
    """An answer that cannot be turned into a value valid for its schema; says why."""


class ParsedAnswer(msgspec.Struct, frozen=True):
    """A schema-valid value and the repairs it needed (empty for a clean answer)."""

    value: Any
    repairs: tuple[str, ...] = ()


class _Problems:
    """The most telling reason an answer failed, kept while other readings are tried."""

    def __init__(self) -> None:
        self._best: tuple[int, str] | None = None

    def add(self, rank: int, reason: str) -> None:
        if self._best is None or rank < self._best[0]:
            self._best = (rank, reason)

    def error(self) -> AnswerError:
        reason = self._best[1] if self._best else "no JSON value was found in the answer"
        return AnswerError(reason)


def parse_answer(text: str | None, schema: Mapping[str, Any]) -> ParsedAnswer:
    """The value in `text` that is valid for `schema`, after at most the repairs above.

    Raises:
        AnswerError: no reading of `text` yields a valid value; the message says why.
        SchemaError: `schema` uses something the validator does not check.
    """
    check_schema(schema)
    if text is None or not text.strip():
        raise AnswerError("the answer is empty")
    whole = _decode(text)
    if whole is not None:
        errors = schema_errors(whole.value, schema)
        if errors:
            raise AnswerError(_shape_reason(errors))
        return ParsedAnswer(whole.value)
    problems = _Problems()
    for match in _FENCE.finditer(text):
        outside = bool((text[: match.start()] + text[match.end() :]).strip())
        repairs = (CODE_FENCE, SURROUNDING_PROSE) if outside else (CODE_FENCE,)
        found = _search(match.group(1), schema, repairs, problems)
        if found is not None:
            return found
    found = _search(text, schema, (), problems)
    if found is not None:
        return found
    raise problems.error()


class _Decoded(msgspec.Struct):
    """A decoded value, boxed so that a JSON `null` is told apart from no value."""

    value: Any


def _decode(text: str) -> _Decoded | None:
    try:
        return _Decoded(msgspec.json.decode(text.strip()))
    except msgspec.DecodeError:
        return None


def _shape_reason(errors: list[str]) -> str:
    return "the answer does not match the schema: " + "; ".join(errors)


def _search(
    body: str, schema: Mapping[str, Any], repairs: tuple[str, ...], problems: _Problems
) -> ParsedAnswer | None:
    """The first JSON value in `body` (whole, or from an opening bracket on) that validates."""
    whole = _decode(body)
    if whole is not None:
        return _accept(whole, schema, repairs, problems)
    position, tried = 0, False
    for _ in range(_MAX_STARTS):
        start = _next_start(body, position, schema)
        if start < 0:
            break
        tried = True
        before = bool(body[:start].strip())
        end, cuts = _scan(body, start)
        if end is None:
            return _repair_tail(body, start, cuts, schema, repairs, before, problems)
        found = _decode(body[start:end])
        if found is None:
            problems.add(_SYNTAX, f"the text from character {start} on is not valid JSON")
            position = start + 1
            continue
        after = bool(body[end:].strip())
        done = (*repairs, SURROUNDING_PROSE) if before or after else repairs
        accepted = _accept(found, schema, done, problems)
        if accepted is not None:
            return accepted
        position = end
    if not tried:
        problems.add(_NOTHING, "no JSON value was found in the answer")
    return None


def _accept(
    found: _Decoded, schema: Mapping[str, Any], repairs: tuple[str, ...], problems: _Problems
) -> ParsedAnswer | None:
    errors = schema_errors(found.value, schema)
    if errors:
        problems.add(_SHAPE, _shape_reason(errors))
        return None
    return ParsedAnswer(found.value, _unique(repairs))


def _repair_tail(
    body: str,
    start: int,
    cuts: list[tuple[int, str]],
    schema: Mapping[str, Any],
    repairs: tuple[str, ...],
    before: bool,
    problems: _Problems,
) -> ParsedAnswer | None:
    done = repairs + ((SURROUNDING_PROSE,) if before else ()) + (TRUNCATED_TAIL,)
    for cut, still_open in cuts[::-1][:_MAX_CUTS]:
        closed = body[start:cut] + "".join(_PAIRS[c] for c in reversed(still_open))
        found = _decode(closed)
        if found is not None and not schema_errors(found.value, schema, limit=1):
            return ParsedAnswer(found.value, _unique(done))
    problems.add(_CUT, "the answer is cut short and no complete part of it matches the schema")
    return None


def _next_start(body: str, position: int, schema: Mapping[str, Any]) -> int:
    kinds = schema.get("type")
    wanted = [kinds] if isinstance(kinds, str) else list(kinds or ("object", "array"))
    openers = [o for o, kind in (("{", "object"), ("[", "array")) if kind in wanted]
    found = [i for i in (body.find(o, position) for o in openers) if i >= 0]
    return min(found, default=-1)


def _scan(body: str, start: int) -> tuple[int | None, list[tuple[int, str]]]:
    """Match the bracket at `start`, aware of strings, noting where a cut would be clean.

    Returns the position just past the matching bracket (or of a mismatched one) with no
    cuts, or None when the text ends first, with every `(position, open brackets)` where it
    could be cut and closed: after an opening bracket, after a closing bracket or a string,
    and before a comma. A cut after an object key fails to decode later and is skipped.
    """
    cuts: list[tuple[int, str]] = []
    for position, still_open in _events(body, start):
        if still_open in ("", _MISMATCH):
            return position, []
        cuts.append((position, still_open))
    return None, cuts


def _events(body: str, start: int) -> Iterator[tuple[int, str]]:
    """Yield `(cut position, open brackets)`: "" once the first bracket closes, or a mismatch."""
    stack: list[str] = []
    in_string = escaped = False
    for index in range(start, len(body)):
        char = body[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                yield index + 1, "".join(stack)
        elif char == '"':
            in_string = True
        elif char in _PAIRS:
            stack.append(char)
            yield index + 1, "".join(stack)
        elif char in "}]":
            if not stack or _PAIRS[stack[-1]] != char:
                yield index, _MISMATCH
                return
            stack.pop()
            yield index + 1, "".join(stack)
            if not stack:
                return
        elif char == ",":
            yield index, "".join(stack)


def _unique(repairs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(repairs))
