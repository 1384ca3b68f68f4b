"""What infer-atoms reads, writes and is configured with.

What it writes into graph state (`Atom`, `InferAtomsReport`) is plain dicts typed with
`TypedDict`, so any LangGraph checkpointer and JSON carry it as it is; its input and settings
are msgspec Structs, checked where they come in.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, TypedDict

import msgspec
from batchery.answers import NodeReport, NodeSettings

__all__ = ["DEFAULT_CATEGORIES", "Atom", "InferAtomsReport", "InferAtomsSettings", "Item"]

DEFAULT_CATEGORIES = (
    "functional",
    "validation",
    "error_handling",
    "security",
    "performance",
    "data",
    "interface",
    "other",
)

_Category = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One input item: a requirement, a test case, a document chunk..., keyed by its id."""

    id: str
    text: str
    kind: str = "item"


class Atom(TypedDict):
    """A small, self-contained, verifiable statement of behaviour found in one item.

    `id` is `{item_id}#{n}`, n counting the item's atoms from 1 in the model's order, so the
    same items give the same ids on every run and in either mode.
    """

    id: str
    item_id: str
    statement: str
    category: str
    confidence: float


class InferAtomsReport(NodeReport):
    """How the run went: which items failed and why, which answers needed repair, the cost.

    `failed` holds every item that produced no atoms, by id, with the reason; `repaired` maps
    an item id to the repairs its answer needed (`code_fence`, `surrounding_prose`,
    `truncated_tail`: a repaired tail may have lost the atoms that were cut off).
    """

    items: int
    atoms: int


class InferAtomsSettings(NodeSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The node's settings: the shared `NodeSettings` plus how many atoms, in which categories.

    Prompts left None use the defaults in `batchery_infer_atoms.DEFAULT_*_PROMPT`.
    """

    node: ClassVar[str] = "infer-atoms"

    max_atoms_per_item: Annotated[int, msgspec.Meta(ge=1, le=50)] = 8
    categories: Annotated[tuple[_Category, ...], msgspec.Meta(min_length=1)] = DEFAULT_CATEGORIES

    def __post_init__(self) -> None:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError(f"categories must not repeat: {list(self.categories)}")
