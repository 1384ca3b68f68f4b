"""What verify reads, writes and is configured with; all msgspec Structs, so they serialise."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec
from batchery.answers import AnswerFailure, NodeSettings

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


class ScoredAtom(msgspec.Struct, frozen=True, kw_only=True):
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
    reasons: tuple[str, ...]
    passed: bool


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """How the run went: the split, the atoms that got no score and why, the cost.

    `failed` holds every atom that could not be scored, by atom id, with the reason; the atoms
    themselves are in the `unscored_atoms` state key. `repaired` maps an atom id to the repairs
    its answer needed.
    """

    run_id: str
    atoms: int
    verified: int
    rejected: int
    failed: list[AnswerFailure]
    repaired: dict[str, tuple[str, ...]]
    retried: int
    pass_mark: int
    score_only: bool
    jobs: list[str]
    cost_usd: float
    realtime_cost_usd: float
    savings_usd: float


class VerifySettings(NodeSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The node's settings: the shared `NodeSettings` plus the pass mark.

    `pass_mark` is the lowest score that passes. With `score_only` nothing is rejected: every
    scored atom is kept, sorted by score. Prompts left None use `batchery_verify.DEFAULT_*`.
    """

    node: ClassVar[str] = "verify"

    pass_mark: Annotated[int, msgspec.Meta(ge=0, le=100)] = 70
    score_only: bool = False
