"""HTTP plumbing any emulator can share, whatever its error bodies: replies, auth, faults.

Each provider answers errors in its own body shape, so `EmulatorError` leaves `body` to a
subclass; the middleware only needs to know how to turn one into a response.
"""

from __future__ import annotations

import abc
import asyncio
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = [
    "EmulatorError",
    "api_middleware",
    "bearer_token",
    "decode_json",
    "drop_connection",
    "int_query",
    "json_response",
    "key_matches",
]

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EmulatorError(Exception, abc.ABC):
    """An HTTP error answered in a provider's body shape, with extra headers if any."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})

    @abc.abstractmethod
    def body(self) -> Any:
        """The JSON body the provider sends with this error."""

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.status, headers=self.headers)


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(payload),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def decode_json(
    request: web.Request, into: type[T], bad_body: Callable[[str | None], Exception]
) -> T:
    """The body decoded into `into`; otherwise `bad_body(problem)` is raised, `None` for non-JSON.

    `problem` is msgspec's description of what does not fit, for the provider to phrase.
    """
    raw = await request.read()
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise bad_body(str(exc)) from None
    except msgspec.DecodeError:
        raise bad_body(None) from None


def int_query(
    request: web.Request,
    name: str,
    *,
    default: int,
    low: int,
    high: int,
    invalid: Callable[[str, int, int], Exception],
) -> int:
    """The query parameter `name` as an integer from `low` to `high`; `invalid` phrases a 400."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid(name, low, high)
    return int(raw)


def bearer_token(request: web.Request) -> str:
    """The token of an `Authorization: Bearer …` header, or `""` when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def key_matches(given: str, api_key: str | None) -> bool:
    """Whether `given` is the expected key, compared in constant time; any key when None."""
    return api_key is None or hmac.compare_digest(given.encode(), api_key.encode())


def drop_connection(request: web.Request) -> NoReturn:
    """Abort the connection before any reply, as the `create_dropped` fault needs."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def api_middleware(
    *,
    authorize: Callable[[web.Request], None],
    unknown_route: Callable[[web.Request, int], EmulatorError],
    request_id: Callable[[], str],
    id_header: str = "x-request-id",
) -> Middleware:
    """Auth, error bodies for `EmulatorError`s and unknown routes (404/405), and a request id.

    `authorize` raises an `EmulatorError` to refuse a request; it must never echo the key.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            authorize(request)
            response = await handler(request)
        except EmulatorError as exc:
            response = exc.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            response = unknown_route(request, exc.status).response()
        if not response.prepared:
            response.headers[id_header] = request_id()
        return response

    return middleware
