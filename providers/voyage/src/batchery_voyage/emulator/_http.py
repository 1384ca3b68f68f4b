"""HTTP plumbing for every route: ids, timestamps, JSON replies, `{"detail"}` errors and auth."""

from __future__ import annotations

import hmac
import random
import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["ApiError", "Ids", "decode_json", "json_response", "rfc3339", "voyage_middleware"]

_ALNUM = string.ascii_letters + string.digits

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Ids:
    """Voyage-shaped ids (`file-…`, `batch-…`), unique across emulator instances as real ids are.

    Answers repeat with the seed; ids must not, or a job store that outlived one emulator would
    mistake a restarted emulator's new batch for its own old one.
    """

    def __init__(self) -> None:
        self._rng = random.SystemRandom()

    def _alnum(self, n: int) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(n))

    def file(self) -> str:
        return "file-" + self._alnum(37)

    def batch(self) -> str:
        return "batch-" + self._alnum(32)

    def request(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"


def rfc3339(seconds: float) -> str:
    """Unix seconds as Voyage writes times: `2025-02-11T19:52:02.536100+00:00`."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


class ApiError(Exception):
    """An error answered in Voyage's body shape, `{"detail": "..."}`."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> web.Response:
        return json_response({"detail": self.detail}, status=self.status, headers=self.headers)


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(payload),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def decode_json(request: web.Request, into: type[T]) -> T:
    """The request body decoded into `into`; a body that does not fit is a 400."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"Invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise ApiError(400, "The request body is not valid JSON.") from None


def voyage_middleware(api_key: str | None, ids: Ids) -> Middleware:
    """Auth, a request id on every reply, and `{"detail"}` bodies for unknown routes.

    The key is compared in constant time and never echoed, logged or stored anywhere else.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            _authorize(request, api_key)
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPNotFound:
            response = ApiError(404, "Not Found").response()
        except web.HTTPMethodNotAllowed:
            response = ApiError(405, "Method Not Allowed").response()
        if not response.prepared:
            response.headers["x-request-id"] = ids.request()
        return response

    return middleware


def _authorize(request: web.Request, api_key: str | None) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise ApiError(401, "No API key provided. Pass it as 'Authorization: Bearer <key>'.")
    if api_key is not None and not hmac.compare_digest(given.encode(), api_key.encode()):
        raise ApiError(401, "Provided API key is invalid.")
