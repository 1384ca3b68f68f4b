"""Reading infer-atoms' input from graph state, with errors naming the item and the rule broken."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from batchery.nodes import StateError
from batchery.service.validation import id_problem

from batchery_infer_atoms._model import Item

__all__ = ["MAX_ID_LENGTH", "StateError", "read_items"]

MAX_ID_LENGTH = 256
"""Item ids become request ids and, with a `#n` suffix, atom ids; this keeps both well short."""
_MAX_KIND_LENGTH = 64


def read_items(state: Mapping[str, Any]) -> list[Item]:
    """The `items` of `state` as `Item`s, in order; raises `StateError` at the first bad one."""
    if "items" not in state:
        raise StateError("infer-atoms: the state has no 'items' (a list of {id, text} items)")
    raw = state["items"]
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise StateError(
            f"infer-atoms: 'items' must be a list of {{id, text}} items, not {type(raw).__name__}"
        )
    items: list[Item] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        item = _read_item(index, entry)
        if item.id in seen:
            first = seen[item.id]
            raise StateError(
                f"infer-atoms: items[{index}] (id {item.id!r}): the id repeats items[{first}]"
            )
        seen[item.id] = index
        items.append(item)
    return items


def _read_item(index: int, entry: object) -> Item:
    where = f"infer-atoms: items[{index}]"
    if isinstance(entry, msgspec.Struct):
        fields: Mapping[str, Any] = msgspec.structs.asdict(entry)
    elif isinstance(entry, Mapping):
        fields = entry
    else:
        raise StateError(f"{where}: expected a mapping with 'id' and 'text', not {_kind(entry)}")
    item_id = _string(fields, "id", where)
    problem = id_problem(item_id, max_length=MAX_ID_LENGTH)
    if problem is not None:
        raise StateError(f"{where}: 'id' {problem}")
    where = f"{where} (id {item_id!r})"
    text = _string(fields, "text", where)
    if not text.strip():
        raise StateError(f"{where}: 'text' must not be blank")
    kind = fields.get("kind", "item")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > _MAX_KIND_LENGTH:
        raise StateError(
            f"{where}: 'kind' must be a non-blank string of at most {_MAX_KIND_LENGTH} characters"
        )
    return Item(id=item_id, text=text, kind=kind.strip())


def _string(fields: Mapping[str, Any], key: str, where: str) -> str:
    if key not in fields:
        raise StateError(f"{where}: has no {key!r}")
    value = fields[key]
    if not isinstance(value, str):
        raise StateError(f"{where}: {key!r} must be a string, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__
