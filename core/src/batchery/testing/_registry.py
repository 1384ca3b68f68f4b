"""Checks: async functions of a `Kit`, each tied to one capability, registered in report order."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from batchery.testing._kit import Kit
from batchery.testing.capabilities import CAPABILITIES

__all__ = ["CHECKS", "Check", "check", "ordered"]

CheckFn = Callable[[Kit], Coroutine[Any, Any, str | None]]
"""A check returns an optional note for the report, raises `ConformanceFailure` or `Unsupported`."""


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance test; its docstring ends with a Troubleshooting paragraph."""

    name: str
    capability: str
    run: CheckFn
    doc: str

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n", 1)[0].replace("\n", " ").strip()

    @property
    def troubleshooting(self) -> str:
        _, _, tail = self.doc.partition("Troubleshooting:")
        return " ".join(tail.split())


CHECKS: dict[str, Check] = {}
"""Every check by name, in the order they were registered; `ordered` gives report order."""


def ordered(names: Iterable[str]) -> list[str]:
    """`names` in report order: by capability (as in `CAPABILITIES`), then registration."""
    ranks = {name: rank for rank, name in enumerate(CAPABILITIES)}
    position = {name: rank for rank, name in enumerate(CHECKS)}
    return sorted(names, key=lambda n: (ranks[CHECKS[n].capability], position[n]))


def check(capability: str) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated coroutine function as the check named after it."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")

    def register(fn: CheckFn) -> CheckFn:
        doc = inspect.getdoc(fn) or ""
        if "Troubleshooting:" not in doc:
            raise ValueError(f"check {fn.__name__} needs a Troubleshooting paragraph")
        CHECKS[fn.__name__] = Check(fn.__name__, capability, fn, doc)
        return fn

    return register
