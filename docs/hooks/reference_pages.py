"""mkdocs hook: the reference pages that are generated from the code at every build.

Nothing generated is committed, so the pages cannot drift from the code: a renamed setting, a
new event field or a new route shows on the next build, and `mkdocs build --strict` fails on a
link to anything that went away.
"""

from __future__ import annotations

from collections.abc import Callable

import events_page
import exit_codes_page
import rest_api_page
import settings_page
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGES: dict[str, Callable[[], str]] = {
    "reference/settings.md": settings_page.render,
    "reference/exit-codes.md": exit_codes_page.render,
    "reference/events.md": events_page.render,
    "reference/events.schema.json": events_page.schema_json,
    "reference/rest-api.md": rest_api_page.render,
    "reference/openapi.json": rest_api_page.openapi_json,
}
"""Where each generated file goes in the site, and what writes it."""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, render in PAGES.items():
        files.append(File.generated(config, uri, content=render()))
    return files
