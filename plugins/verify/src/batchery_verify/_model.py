"""What verify reads, writes and is configured with; all msgspec Structs, so they serialise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, Self

import msgspec
from batchery.answers import AnswerFailure, AskOptions
from batchery.model import Mode

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


class VerifySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The node's settings; `VerifyModule.for_root(**settings)` takes the same names.

    `pass_mark` is the lowest score that passes. With `score_only` nothing is rejected: every
    scored atom is kept, sorted by score. Prompts left None use `batchery_verify.DEFAULT_*`.
    """

    provider: str | None = None
    model: str | None = None
    mode: Literal["auto", "batch", "realtime"] = "auto"
    deadline_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_parse_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    pass_mark: Annotated[int, msgspec.Meta(ge=0, le=100)] = 70
    score_only: bool = False
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    system_prompt: str | None = None
    prompt: str | None = None
    retry_prompt: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> Self:
        """Settings from `for_root` options; a bad one raises ValueError naming it and the rule."""
        try:
            return msgspec.convert(dict(options), cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"verify settings: {exc}") from None

    def ask_options(self) -> AskOptions:
        return AskOptions(
            provider=self.provider,
            model=self.model,
            mode=Mode(self.mode),
            deadline_s=self.deadline_s,
            max_parse_retries=self.max_parse_retries,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )
