"""Attribute docstrings (the string under a field) read from a module's source.

Structs keep no field descriptions at runtime, so the reference pages read them where they are
written: beside each field, where a change to the field is seen.
"""

from __future__ import annotations

import ast
import inspect
from types import ModuleType


def attribute_docs(module: ModuleType) -> dict[str, dict[str, str]]:
    """`{class name: {field name: docstring}}` for every class defined in `module`."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = found.setdefault(node.name, {})
        for before, after in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(before, ast.AnnAssign)
                and isinstance(before.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                fields[before.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return found
