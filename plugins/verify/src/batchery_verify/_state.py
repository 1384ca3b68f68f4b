"""Reading verify's input from graph state, with errors naming the atom and the rule broken."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from batchery.nodes import StateError
from batchery.service.validation import id_problem

from batchery_verify._model import AtomInput

__all__ = ["StateError", "read_atoms", "read_sources"]

_MAX_ID_LENGTH = 300


def read_atoms(state: Mapping[str, Any]) -> list[tuple[AtomInput, dict[str, Any]]]:
    """Each atom of `state["atoms"]` read as an `AtomInput`, beside all its fields as a dict
    (a Struct given as an atom comes back as a dict, so graph state stays plain)."""
    raw = _sequence(state, "atoms", "a list of atoms (what infer-atoms writes)")
    atoms: list[tuple[AtomInput, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"verify: atoms[{index}]"
        fields = dict(_fields(entry, where))
        try:
            atom = msgspec.convert(fields, AtomInput)
        except msgspec.ValidationError as exc:
            raise StateError(f"{where}: {exc}") from None
        problem = id_problem(atom.id, max_length=_MAX_ID_LENGTH)
        if problem is not None:
            raise StateError(f"{where}: 'id' {problem}")
        where = f"{where} (id {atom.id!r})"
        if not atom.statement.strip():
            raise StateError(f"{where}: 'statement' must not be blank")
        if atom.id in seen:
            raise StateError(f"{where}: the id repeats atoms[{seen[atom.id]}]")
        seen[atom.id] = index
        atoms.append((atom, fields))
    return atoms


def read_sources(state: Mapping[str, Any]) -> dict[str, str]:
    """The text of each item in the optional `state["items"]`, by item id; empty without it."""
    if state.get("items") is None:
        return {}
    sources: dict[str, str] = {}
    for index, entry in enumerate(_sequence(state, "items", "a list of {id, text} items")):
        where = f"verify: items[{index}]"
        fields = _fields(entry, where)
        item_id, text = fields.get("id"), fields.get("text")
        if not isinstance(item_id, str) or not isinstance(text, str):
            raise StateError(f"{where}: an item needs a string 'id' and a string 'text'")
        sources[item_id] = text
    return sources


def _sequence(state: Mapping[str, Any], key: str, what: str) -> Sequence[Any]:
    if key not in state:
        raise StateError(f"verify: the state has no {key!r} ({what})")
    raw = state[key]
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise StateError(f"verify: {key!r} must be {what}, not {type(raw).__name__}")
    return raw


def _fields(entry: object, where: str) -> Mapping[str, Any]:
    if isinstance(entry, msgspec.Struct):
        return msgspec.structs.asdict(entry)
    if isinstance(entry, Mapping):
        return entry
    raise StateError(f"{where}: expected a mapping or an Atom, not {type(entry).__name__}")
