"""The infer-atoms graph node: extracts small, verifiable statements of behaviour from items.

Registered under the `batchery.nodes` entry point as `infer-atoms`; in an application it is
`await app.get("infer-atoms.node")`. See docs/nodes/infer-atoms.md.
"""

from batchery_infer_atoms._model import (
    DEFAULT_CATEGORIES,
    Atom,
    InferAtomsReport,
    InferAtomsSettings,
    Item,
)
from batchery_infer_atoms._module import InferAtomsModule
from batchery_infer_atoms._node import INFO, InferAtomsNode
from batchery_infer_atoms._prompts import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    PROMPT_FIELDS,
    answer_schema,
)
from batchery_infer_atoms._samples import load_samples
from batchery_infer_atoms._state import StateError

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_PROMPT",
    "DEFAULT_SYSTEM_PROMPT",
    "INFO",
    "PROMPT_FIELDS",
    "Atom",
    "InferAtomsModule",
    "InferAtomsNode",
    "InferAtomsReport",
    "InferAtomsSettings",
    "Item",
    "StateError",
    "answer_schema",
    "load_samples",
]
