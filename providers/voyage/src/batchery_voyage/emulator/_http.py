"""HTTP plumbing for every route: Voyage's ids and `{"detail"}` errors, and auth.

Times are the kit's `rfc3339` (`2025-02-11T19:52:02.536100+00:00`), as Voyage writes them.
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware
from batchery.emulator import (
    EmulatorError,
    RandomIds,
    api_middleware,
    bearer_token,
    json_response,
    key_matches,
    rfc3339,
)
from batchery.emulator import decode_json as decode_body

__all__ = ["ApiError", "Ids", "decode_json", "json_response", "rfc3339", "voyage_middleware"]

T = TypeVar("T")


class Ids(RandomIds):
    """Voyage-shaped ids (`file-…`, `batch-…`), unique across emulator instances as real ids are."""

    def file(self) -> str:
        return "file-" + self.alnum(37)

    def batch(self) -> str:
        return "batch-" + self.alnum(32)

    def request(self) -> str:
        return self.hex(32)


class ApiError(EmulatorError):
    """An error answered in Voyage's body shape, `{"detail": "..."}`."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(status, detail, headers=headers)
        self.detail = detail

    def body(self) -> dict[str, str]:
        return {"detail": self.detail}


def _bad_body(problem: str | None) -> ApiError:
    if problem is None:
        return ApiError(400, "The request body is not valid JSON.")
    return ApiError(400, f"Invalid request body: {problem}")


async def decode_json(request: web.Request, into: type[T]) -> T:
    """The request body decoded into `into`; a body that does not fit is a 400."""
    return await decode_body(request, into, _bad_body)


def _unknown_route(request: web.Request, status: int) -> ApiError:
    return ApiError(status, "Not Found" if status == 404 else "Method Not Allowed")


def voyage_middleware(api_key: str | None, ids: Ids) -> Middleware:
    """Auth, a request id on every reply, and `{"detail"}` bodies for unknown routes.

    The key is compared in constant time and never echoed, logged or stored anywhere else.
    """

    def authorize(request: web.Request) -> None:
        given = bearer_token(request)
        if not given:
            raise ApiError(401, "No API key provided. Pass it as 'Authorization: Bearer <key>'.")
        if not key_matches(given, api_key):
            raise ApiError(401, "Provided API key is invalid.")

    return api_middleware(authorize=authorize, unknown_route=_unknown_route, request_id=ids.request)
