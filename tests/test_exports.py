"""Every package's `__all__` is importable and complete, so `from x import *` and the API
reference show exactly the public names, and a new public name is not forgotten. (Its order is
ruff's rule RUF022.)"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(
    ".".join(init.parent.relative_to(src).parts)
    for pattern in ("core", "providers/*", "plugins/*", "contrib/*")
    for src in ROOT.glob(f"{pattern}/src")
    for init in src.rglob("__init__.py")
    if not any(part.startswith("_") for part in init.parent.relative_to(src).parts)
)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_exists(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)

    assert exported is not None, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(package, n)] == []


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_every_public_submodule_member_the_package_imports(name: str) -> None:
    """A public name the package itself imports from its own modules is meant to be exported."""
    package = importlib.import_module(name)
    exported = set(getattr(package, "__all__", ()))
    own = f"{name}."
    forgotten = sorted(
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", "").startswith(own)
        and attr not in exported
        and not isinstance(value, type(package))
    )
    assert forgotten == []


def test_every_package_is_checked() -> None:
    assert {"batchery", "batchery.store", "batchery_openai", "batchery_langgraph"} <= set(PACKAGES)
    assert all(pkgutil.resolve_name(name) for name in PACKAGES)
