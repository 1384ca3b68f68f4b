"""Each distribution imports only what it declares, and only the public modules of `batchery`.

Core knows no provider, plugin or contrib package; a provider, plugin or contrib package reaches
another Batchery distribution only when its `pyproject.toml` depends on it, and reaches core
only through modules without a leading underscore, so core's private modules can change freely.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = sorted(
    p.parent
    for pattern in ("core", "providers/*", "plugins/*", "contrib/*", "examples/*")
    for p in ROOT.glob(f"{pattern}/pyproject.toml")
)


def _imports(source: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in the file, `from` imports with each name."""
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _declared(distribution: Path) -> set[str]:
    """The import names of the Batchery distributions this one depends on, and its own."""
    project = tomllib.loads((distribution / "pyproject.toml").read_text())["project"]
    names = [project["name"], *(re.split(r"[\s<>=!~;\[]", d)[0] for d in project["dependencies"])]
    return {n.replace("-", "_") for n in names if n.startswith("batchery")}


def _packages(distribution: Path) -> list[Path]:
    return sorted(p for p in (distribution / "src").iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_distribution_imports_only_what_it_declares_and_core_only_publicly(
    distribution: Path,
) -> None:
    allowed = _declared(distribution)
    own = {p.name for p in _packages(distribution)}
    problems = []
    for package in _packages(distribution):
        for source in sorted(package.rglob("*.py")):
            for line, module in _imports(source):
                top = module.split(".")[0]
                where = f"{source.relative_to(ROOT)}:{line}: {module}"
                if top.startswith("batchery") and top not in allowed | own:
                    problems.append(f"{where} is not a declared dependency")
                elif top == "batchery" and "batchery" not in own:
                    private = [part for part in module.split(".")[1:] if part.startswith("_")]
                    if private:
                        problems.append(f"{where} reaches core's private {private[0]}")
    assert problems == []


def test_every_distribution_is_checked() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DISTRIBUTIONS}
    assert {"core", "providers/openai", "plugins/verify", "contrib/langgraph"} <= names
