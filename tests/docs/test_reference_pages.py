"""The generated reference pages name everything the code defines, so none can go missing.

The pages are rendered by the mkdocs hook in docs/hooks at every build; these tests hold each
page to its source: every setting, exit code, event and route appears on it.
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
from batchery import events
from batchery.cli._exit import ExitCode
from batchery.settings import Settings

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "hooks"


@pytest.fixture(scope="module")
def hooks() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(HOOKS))
    try:
        import events_page
        import exit_codes_page
        import rest_api_page
        import settings_page

        yield {
            "events": events_page,
            "exit_codes": exit_codes_page,
            "rest_api": rest_api_page,
            "settings": settings_page,
        }
    finally:
        sys.path.remove(str(HOOKS))


def test_every_setting_has_a_row_with_its_variable_and_its_meaning(
    hooks: dict[str, ModuleType],
) -> None:
    page: str = hooks["settings"].render()
    rows = {
        line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| `")
    }
    for field in msgspec.structs.fields(Settings):
        row = rows[f"`{field.name}`"]
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 5
        assert all(cells), f"{field.name} has an empty cell: {row}"
    assert "`BATCHERY_BATCH_THRESHOLD`" in rows["`batch_threshold`"]
    assert "`20`" in rows["`batch_threshold`"]
    assert "integer >= 0" in rows["`batch_threshold`"]


def test_every_exit_code_is_listed(hooks: dict[str, ModuleType]) -> None:
    page: str = hooks["exit_codes"].render()
    for code in ExitCode:
        assert f"| {code.value} | `{code.name}` |" in page


def test_every_event_has_a_section_and_every_field_a_type(hooks: dict[str, ModuleType]) -> None:
    page: str = hooks["events"].render()

    def leaves(union: object) -> list[type]:
        args = typing.get_args(union)
        return [leaf for arg in args for leaf in leaves(arg)] if args else [union]  # type: ignore[list-item]

    for struct in leaves(events.RunEvent):
        tag = msgspec.inspect.type_info(struct).tag  # type: ignore[attr-defined]
        assert f"### `{tag}` ({struct.__name__})" in page
        for field in msgspec.structs.fields(struct):
            assert f"| `{field.name}` |" in page
    assert "list of [ModeEstimate](#modeestimate)" in page


def test_every_route_of_the_openapi_document_has_a_section(hooks: dict[str, ModuleType]) -> None:
    module = hooks["rest_api"]
    page: str = module.render()
    document = module.openapi_document()
    for path, item in document["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in page
    for name in document["components"]["schemas"]:
        assert f"### {name} {{ #{name.lower()} }}" in page
