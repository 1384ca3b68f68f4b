"""`VerifyNode`: atoms in, scored atoms out, split at the pass mark or sorted by score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from batchery.answers import (
    DEFAULT_RETRY_PROMPT,
    RETRY_FIELDS,
    AnswerError,
    Ask,
    PromptTemplate,
    ask_as_node,
    node_deadline,
    node_finished,
    node_report,
)
from batchery.nodes import NodeInfo, node_run_id
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService

from batchery_verify._model import AtomInput, ScoredAtom, VerifyReport, VerifySettings
from batchery_verify._prompts import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    NO_SOURCE,
    PROMPT_FIELDS,
    answer_schema,
)
from batchery_verify._state import read_atoms, read_sources

__all__ = ["INFO", "VerifyNode"]

INFO = NodeInfo(
    name="verify",
    title="Verify: score each atom's quality, with a verdict and reasons",
    reads=("atoms", "items", "run_id", "deadline_at"),
    writes=("verified_atoms", "rejected_atoms", "unscored_atoms", "verify_report"),
)


class _Score(NamedTuple):
    score: int
    verdict: str
    reasons: tuple[str, ...]


class VerifyNode:
    """A graph node: reads `atoms` (and `items` for source text), writes the scored split.

    Built by `VerifyModule` with the application's service and bus; build one directly to run
    a second configuration in the same application. Bad prompt templates or settings fail
    here, at construction, not on the first atom.
    """

    def __init__(
        self,
        service: BatchLlmService,
        bus: ProgressBus,
        settings: VerifySettings | None = None,
    ) -> None:
        self._service = service
        self._bus = bus
        self._settings = settings = settings or VerifySettings()
        self._system = PromptTemplate(
            "system_prompt", settings.system_prompt or DEFAULT_SYSTEM_PROMPT, fields=PROMPT_FIELDS
        )
        self._prompt = PromptTemplate(
            "prompt",
            settings.prompt or DEFAULT_PROMPT,
            fields=PROMPT_FIELDS,
            required=("statement",),
        )
        self._retry = PromptTemplate(
            "retry_prompt",
            settings.retry_prompt or DEFAULT_RETRY_PROMPT,
            fields=RETRY_FIELDS,
            required=("reason",),
        )
        self._schema = answer_schema()

    @property
    def info(self) -> NodeInfo:
        return INFO

    @property
    def settings(self) -> VerifySettings:
        return self._settings

    async def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Score every atom of `state["atoms"]`; see docs/nodes/verify.md."""
        atoms = read_atoms(state)
        sources = read_sources(state)
        run_id = node_run_id(state, INFO.name)
        deadline_at = node_deadline(self._settings, state, INFO.name)
        collected = await ask_as_node(
            self._service,
            self._bus,
            node=INFO.name,
            run_id=run_id,
            items=len(atoms),
            asks=[self._ask(atom, sources) for atom, _ in atoms],
            schema=self._schema,
            accept=_read_score,
            settings=self._settings,
            retry_prompt=self._retry,
            deadline_at=deadline_at,
        )
        pass_mark = self._settings.pass_mark
        scored = [
            _scored(atom, collected.values[atom.id], pass_mark)
            for atom, _ in atoms
            if atom.id in collected.values
        ]
        if self._settings.score_only:
            verified = sorted(scored, key=lambda s: -s["score"])
            rejected: list[ScoredAtom] = []
        else:
            verified = [s for s in scored if s["passed"]]
            rejected = [s for s in scored if not s["passed"]]
        unscored = [given for atom, given in atoms if atom.id not in collected.values]
        report = VerifyReport(
            **node_report(run_id, collected, deadline_at),
            atoms=len(atoms),
            verified=len(verified),
            rejected=len(rejected),
            pass_mark=pass_mark,
            score_only=self._settings.score_only,
        )
        await node_finished(
            self._bus, node=INFO.name, items=len(atoms), produced=len(scored), report=report
        )
        return {
            "verified_atoms": verified,
            "rejected_atoms": rejected,
            "unscored_atoms": unscored,
            "verify_report": report,
        }

    def _ask(self, atom: AtomInput, sources: Mapping[str, str]) -> Ask:
        fields = {
            "statement": atom.statement,
            "category": atom.category or NO_SOURCE,
            "item_id": atom.item_id or NO_SOURCE,
            "source": sources.get(atom.item_id or "", NO_SOURCE),
        }
        return Ask(
            id=atom.id, system=self._system.render(**fields), prompt=self._prompt.render(**fields)
        )


def _read_score(atom_id: str, value: Any) -> _Score:
    """The score of a schema-valid answer; blank reasons make the answer unusable."""
    reasons = tuple(" ".join(str(r).split()) for r in value["reasons"])
    if not all(reasons):
        raise AnswerError("a reason in the answer is blank")
    return _Score(int(value["score"]), str(value["verdict"]), reasons)


def _scored(atom: AtomInput, score: _Score, pass_mark: int) -> ScoredAtom:
    return ScoredAtom(
        id=atom.id,
        statement=atom.statement,
        item_id=atom.item_id,
        category=atom.category,
        confidence=atom.confidence,
        score=score.score,
        verdict=score.verdict,
        reasons=list(score.reasons),
        passed=score.score >= pass_mark,
    )
