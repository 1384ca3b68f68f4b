"""The verify graph node: scores each atom's quality (0-100) with a verdict and short reasons.

Registered under the `batchery.nodes` entry point as `verify`; in an application it is
`await app.get("verify.node")`. See docs/nodes/verify.md.
"""

from batchery_verify._model import VERDICTS, AtomInput, ScoredAtom, VerifyReport, VerifySettings
from batchery_verify._module import VerifyModule
from batchery_verify._node import INFO, VerifyNode
from batchery_verify._prompts import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    NO_SOURCE,
    PROMPT_FIELDS,
    answer_schema,
)
from batchery_verify._state import StateError

__all__ = [
    "DEFAULT_PROMPT",
    "DEFAULT_SYSTEM_PROMPT",
    "INFO",
    "NO_SOURCE",
    "PROMPT_FIELDS",
    "VERDICTS",
    "AtomInput",
    "ScoredAtom",
    "StateError",
    "VerifyModule",
    "VerifyNode",
    "VerifyReport",
    "VerifySettings",
    "answer_schema",
]
