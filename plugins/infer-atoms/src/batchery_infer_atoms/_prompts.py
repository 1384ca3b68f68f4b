"""The default prompts, the fields a prompt may use, and the JSON schema of the answer.

Prompts hold only what an item says and how the node is configured, never the mode or a job
id, so the same item is the same request in batch and realtime and gets the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "DEFAULT_PROMPT",
    "DEFAULT_SYSTEM_PROMPT",
    "PROMPT_FIELDS",
    "answer_schema",
]

PROMPT_FIELDS = ("id", "kind", "text", "categories", "max_atoms")
"""Fields both prompts may use; the user prompt must use `$text`."""

DEFAULT_SYSTEM_PROMPT = """\
You break software artefacts (requirements, test cases, documentation) into atoms. An atom is \
one small statement of behaviour that a tester could check on its own: it names who or what \
acts, under which condition, and what can be observed as a result, and it still makes sense \
without the source beside it.

Split statements that combine several behaviours. Leave out rationale, background and \
examples. Never add behaviour the source does not state.

For each atom give a category, one of: $categories; and a confidence from 0 to 1 saying how \
directly the source states it (1: word for word; 0.5: a fair reading; below 0.3: a guess). \
Give at most $max_atoms atoms, most important first, as JSON that follows the given schema.\
"""

DEFAULT_PROMPT = """\
Find the atoms in this $kind:

$text\
"""


def answer_schema(categories: Sequence[str], max_atoms: int) -> dict[str, Any]:
    """The answer's shape: one to `max_atoms` atoms (strict-mode friendly: no extra keys)."""
    atom = {
        "type": "object",
        "additionalProperties": False,
        "required": ["statement", "category", "confidence"],
        "properties": {
            "statement": {"type": "string"},
            "category": {"type": "string", "enum": list(categories)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["atoms"],
        "properties": {
            "atoms": {"type": "array", "minItems": 1, "maxItems": max_atoms, "items": atom},
        },
    }
