"""The default prompts, the fields a prompt may use, and the JSON schema of the answer.

Prompts hold only the atom, its source and the node's configuration, never the mode, a job id
or the pass mark: the same atom gets the same score in batch and realtime, and under any pass
mark, so moving the mark never changes a score.
"""

from __future__ import annotations

from typing import Any

from batchery_verify._model import VERDICTS

__all__ = ["DEFAULT_PROMPT", "DEFAULT_SYSTEM_PROMPT", "NO_SOURCE", "PROMPT_FIELDS", "answer_schema"]

PROMPT_FIELDS = ("statement", "category", "item_id", "source")
"""Fields both prompts may use; the user prompt must use `$statement`."""

NO_SOURCE = "(not given)"
"""What `$source` (and a missing `$category` or `$item_id`) reads when the state has none."""

DEFAULT_SYSTEM_PROMPT = """\
You review atoms: short statements of software behaviour, each meant to be checked on its own. \
Score an atom from 0 to 100 for how good a test target it is:
- self-contained: it makes sense without its source;
- single: it states one behaviour, not several;
- verifiable: a tester can observe whether it holds, under a stated condition;
- faithful: it says what the source says and adds nothing (judge this only when the source \
is given).
Then give a verdict (accept, revise or reject) and one to three short reasons, as JSON that \
follows the given schema.\
"""

DEFAULT_PROMPT = """\
Atom ($category): $statement

Source: $source\
"""


def answer_schema() -> dict[str, Any]:
    """The answer's shape (strict-mode friendly: every key required, no others)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["score", "verdict", "reasons"],
        "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "verdict": {"type": "string", "enum": list(VERDICTS)},
            "reasons": {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "items": {"type": "string"},
            },
        },
    }
