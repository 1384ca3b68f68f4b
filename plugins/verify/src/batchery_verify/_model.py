"""What verify reads, writes and is configured with.

What it writes into graph state (`ScoredAtom`, `VerifyReport`) is plain dicts typed with
`TypedDict`, so any LangGraph checkpointer and JSON carry it as it is; its input and settings
are msgspec Structs, checked where they come in.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, TypedDict

import msgspec
from batchery.answers import NodeReport, NodeSettings

__all__ = ["VERDICTS", "AtomInput", "ScoredAtom", "VerifyReport", "VerifySettings"]

VERDICTS = ("accept", "revise", "reject")
"""The model's own call on an atom; reported as given, while gating uses only the score."""


class AtomInput(msgspec.Struct, frozen=True, kw_only=True):
    """An atom as verify reads it: infer-atoms' `Atom`, or any mapping with these keys."""

    id: str
    statement: str
    item_id: str | None = None
    category: str | None = None
    confidence: float | None = None


class ScoredAtom(TypedDict):
    """An atom with its quality score (0-100), the model's verdict and short reasons.

    `passed` says whether the score reaches the pass mark, in either mode.
    """

    id: str
    statement: str
    item_id: str | None
    category: str | None
    confidence: float | None
    score: int
    verdict: str
    reasons: list[str]
    passed: bool


class VerifyReport(NodeReport):
    """How the run went: the split, the atoms that got no score and why, the cost.

    `failed` holds every atom that could not be scored, by atom id, with the reason; the atoms
    themselves are in the `unscored_atoms` state key. `repaired` maps an atom id to the repairs
    its answer needed.
    """

    atoms: int
    verified: int
    rejected: int
    pass_mark: int
    score_only: bool


class VerifySettings(NodeSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The node's settings: the shared `NodeSettings` plus the pass mark.

    `pass_mark` is the lowest score that passes. With `score_only` nothing is rejected: every
    scored atom is kept, sorted by score. Prompts left None use `batchery_verify.DEFAULT_*`.
    """

    node: ClassVar[str] = "verify"

    pass_mark: Annotated[int, msgspec.Meta(ge=0, le=100)] = 70
    score_only: bool = False
