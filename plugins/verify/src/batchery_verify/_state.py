"""Reading verify's input from graph state, with errors naming the atom and the rule broken."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from batchery_verify._model import AtomInput

__all__ = ["StateError", "read_atoms", "read_sources", "run_id_for"]

_MAX_ID_LENGTH = 300


class StateError(ValueError):
    """The state handed to the node breaks a rule; the message names the key or atom and rule."""


def read_atoms(state: Mapping[str, Any]) -> list[tuple[AtomInput, object]]:
    """Each atom of `state["atoms"]` read as an `AtomInput`, beside the object as given."""
    raw = _sequence(state, "atoms", "a list of atoms (what infer-atoms writes)")
    atoms: list[tuple[AtomInput, object]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"verify: atoms[{index}]"
        try:
            atom = msgspec.convert(dict(_fields(entry, where)), AtomInput)
        except msgspec.ValidationError as exc:
            raise StateError(f"{where}: {exc}") from None
        problem = _id_problem(atom.id)
        if problem is not None:
            raise StateError(f"{where}: 'id' {problem}")
        where = f"{where} (id {atom.id!r})"
        if not atom.statement.strip():
            raise StateError(f"{where}: 'statement' must not be blank")
        if atom.id in seen:
            raise StateError(f"{where}: the id repeats atoms[{seen[atom.id]}]")
        seen[atom.id] = index
        atoms.append((atom, entry))
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


def run_id_for(state: Mapping[str, Any], node: str) -> str:
    """The run id of one call of `node`: `{run_id}-{node}` under the state's `run_id`, if any.

    A caller that names its run (a graph task, say) gets the same id on every call, so a call
    repeated after a crash resumes the jobs of the first instead of submitting them again;
    without one, each call gets a fresh `{node}-{12 hex}`. Either way, following the id as a
    prefix follows the node and every job it runs.
    """
    base = state.get("run_id")
    if base is None:
        return f"{node}-{uuid.uuid4().hex[:12]}"
    if not isinstance(base, str):
        raise StateError(f"{node}: 'run_id' must be a string, not {type(base).__name__}")
    problem = _id_problem(base)
    if problem is not None or len(base) > 128:
        raise StateError(f"{node}: 'run_id' {problem or 'must be at most 128 characters'}")
    return f"{base}-{node}"


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


def _id_problem(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > _MAX_ID_LENGTH:
        return f"must be at most {_MAX_ID_LENGTH} characters"
    if value != value.strip():
        return "must not start or end with white space"
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        return "must not contain control characters"
    return None
