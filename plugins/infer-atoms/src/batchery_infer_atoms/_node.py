"""`InferAtomsNode`: items in, atoms out, every failed item reported by id with its reason."""

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

from batchery_infer_atoms._model import Atom, InferAtomsReport, InferAtomsSettings, Item
from batchery_infer_atoms._prompts import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    PROMPT_FIELDS,
    answer_schema,
)
from batchery_infer_atoms._state import read_items

__all__ = ["INFO", "InferAtomsNode"]

INFO = NodeInfo(
    name="infer-atoms",
    title="Infer atoms: small, verifiable statements of behaviour from items",
    reads=("items", "run_id", "deadline_at"),
    writes=("atoms", "infer_atoms_report"),
)


class _Found(NamedTuple):
    """One atom as the answer states it, before it is given its id and item."""

    statement: str
    category: str
    confidence: float


class InferAtomsNode:
    """A graph node: reads `items`, writes `atoms` and `infer_atoms_report`.

    Built by `InferAtomsModule` with the application's service and bus; build one directly to
    run a second configuration in the same application. Bad prompt templates or settings fail
    here, at construction, not on the first item.
    """

    def __init__(
        self,
        service: BatchLlmService,
        bus: ProgressBus,
        settings: InferAtomsSettings | None = None,
    ) -> None:
        self._service = service
        self._bus = bus
        self._settings = settings = settings or InferAtomsSettings()
        self._system = PromptTemplate(
            "system_prompt", settings.system_prompt or DEFAULT_SYSTEM_PROMPT, fields=PROMPT_FIELDS
        )
        self._prompt = PromptTemplate(
            "prompt", settings.prompt or DEFAULT_PROMPT, fields=PROMPT_FIELDS, required=("text",)
        )
        self._retry = PromptTemplate(
            "retry_prompt",
            settings.retry_prompt or DEFAULT_RETRY_PROMPT,
            fields=RETRY_FIELDS,
            required=("reason",),
        )
        self._schema = answer_schema(settings.categories, settings.max_atoms_per_item)

    @property
    def info(self) -> NodeInfo:
        return INFO

    @property
    def settings(self) -> InferAtomsSettings:
        return self._settings

    async def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Extract atoms from every item of `state["items"]`; see docs/nodes/infer-atoms.md."""
        items = read_items(state)
        run_id = node_run_id(state, INFO.name)
        deadline_at = node_deadline(self._settings, state, INFO.name)
        collected = await ask_as_node(
            self._service,
            self._bus,
            node=INFO.name,
            run_id=run_id,
            items=len(items),
            asks=[self._ask(item) for item in items],
            schema=self._schema,
            accept=_read_atoms,
            settings=self._settings,
            retry_prompt=self._retry,
            deadline_at=deadline_at,
        )
        atoms = [
            Atom(
                id=f"{item.id}#{n}",
                item_id=item.id,
                statement=found.statement,
                category=found.category,
                confidence=found.confidence,
            )
            for item in items
            for n, found in enumerate(collected.values.get(item.id, ()), start=1)
        ]
        report = InferAtomsReport(
            **node_report(run_id, collected, deadline_at), items=len(items), atoms=len(atoms)
        )
        await node_finished(
            self._bus, node=INFO.name, items=len(items), produced=len(atoms), report=report
        )
        return {"atoms": atoms, "infer_atoms_report": report}

    def _ask(self, item: Item) -> Ask:
        fields = {
            "id": item.id,
            "kind": item.kind,
            "text": item.text,
            "categories": ", ".join(self._settings.categories),
            "max_atoms": self._settings.max_atoms_per_item,
        }
        return Ask(
            id=item.id, system=self._system.render(**fields), prompt=self._prompt.render(**fields)
        )


def _read_atoms(item_id: str, value: Any) -> list[_Found]:
    """The atoms of a schema-valid answer; a blank statement makes the answer unusable."""
    found: list[_Found] = []
    for n, atom in enumerate(value["atoms"], start=1):
        statement = " ".join(str(atom["statement"]).split())
        if not statement:
            raise AnswerError(f"atom {n} of the answer has a blank statement")
        found.append(_Found(statement, atom["category"], float(atom["confidence"])))
    return found
