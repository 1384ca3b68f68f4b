"""What the pages promise about their examples: each example file is shown and run, and a page
with code the suite does not run says so.

`docs/write-a-provider.md` and `docs/benchmarks.md` keep their own commands, run by
`tests/examples/` and the benchmark scripts, and are left out here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
OWN_COMMANDS = {"write-a-provider.md", "benchmarks.md"}
RUNNABLE = {"python", "sh", "bash", "shell", "console", "js", "javascript"}
NOTE = '!!! note "What the test suite runs"'
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
FENCE = re.compile(r"^``` ?(?:\{ \.)?(\w*)(?: \})?\n(.*?)^```", re.MULTILINE | re.DOTALL)
"""A fenced block and its language: ```python, or ``` { .python } (which `ruff format` leaves
alone, so a snippet line in it survives)."""

PAGES = sorted(
    page
    for page in DOCS.rglob("*.md")
    if EXAMPLES not in page.parents and page.relative_to(DOCS).as_posix() not in OWN_COMMANDS
)


def _tests_text() -> str:
    return "\n".join(test.read_text() for test in (ROOT / "tests" / "docs").glob("test_*.py"))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(DOCS).as_posix())
def test_a_page_with_code_the_suite_does_not_run_says_so(page: Path) -> None:
    text = page.read_text()
    unrun = [
        language
        for language, body in FENCE.findall(text)
        if language in RUNNABLE and not INCLUDE.fullmatch(body.strip())
    ]
    assert not unrun or NOTE in text, f"{page.name}: {unrun} blocks, and no note says so"


def test_every_example_file_is_on_a_page_and_run_by_a_test() -> None:
    included = {name for page in PAGES for name in INCLUDE.findall(page.read_text())}
    tests = _tests_text()
    for example in sorted(EXAMPLES.iterdir()):
        assert example.name in included, f"{example.name} is on no page"
        assert f'"{example.name}"' in tests, f"{example.name} is run by no test in tests/docs"
