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


def test_every_setting_has_a_section_with_its_type_default_variable_and_meaning(
    hooks: dict[str, ModuleType],
) -> None:
    page: str = hooks["settings"].render()
    found = re.findall(r"### `(\w+)` \{ #\w+ \}\n\n(.+)\n\nType: (.+)", page)
    sections = {name: (meaning, facts) for name, meaning, facts in found}
    assert list(sections) == [field.name for field in msgspec.structs.fields(Settings)]
    assert all(meaning.strip() for meaning, _ in sections.values())
    assert sections["batch_threshold"][1] == (
        "integer >= 0 · default: `20` · environment: `BATCHERY_BATCH_THRESHOLD`"
    )
    assert sections["prices"][1].endswith("environment: (file only)")


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
