"""The live progress page: plain HTML, CSS and JS shipped inside the package, no build step.

The page keeps its API token in the tab's session storage (it arrives once in the URL
fragment, which browsers never send to a server), reads run snapshots over REST and follows
each unfinished run over its WebSocket with a single-use ticket. The three files are read once
and served from memory, so no request path ever reaches the file system.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

__all__ = ["page_routes"]

_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_FILES: Final = (
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/static/app.js", "app.js", "text/javascript; charset=utf-8"),
    ("/static/style.css", "style.css", "text/css; charset=utf-8"),
)


def _route(path: str, body: str, media_type: str) -> HTTPRouteHandler:
    async def serve_file() -> Response[str]:
        return Response(body, media_type=media_type, headers=_HEADERS)

    return get(path, include_in_schema=False, name=f"page:{path}")(serve_file)


def page_routes() -> list[HTTPRouteHandler]:
    static = resources.files("batchery.server") / "static"
    return [_route(path, (static / name).read_text(), media) for path, name, media in _FILES]
