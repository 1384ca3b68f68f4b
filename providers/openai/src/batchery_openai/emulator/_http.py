"""HTTP plumbing for every route: ids, JSON replies, OpenAI error bodies, auth, request ids."""

from __future__ import annotations

import hmac
import random
import string
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from batchery_openai.emulator._wire import ErrorBody, ErrorDetail

__all__ = ["ApiError", "Ids", "decode_json", "json_response", "openai_middleware"]

_ALNUM = string.ascii_letters + string.digits

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Ids:
    """OpenAI-shaped ids, unique across emulator instances as real ids are.

    Answers repeat with the seed; ids must not, or a job store that outlived one emulator
    would mistake a restarted emulator's new batch for its own old one.
    """

    def __init__(self) -> None:
        self._rng = random.SystemRandom()

    def _hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(n * 4):0{n}x}"

    def _alnum(self, n: int) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(n))

    def file(self) -> str:
        return "file-" + self._alnum(22)

    def batch(self) -> str:
        return "batch_" + self._hex(32)

    def batch_request(self) -> str:
        return "batch_req_" + self._hex(32)

    def chat_completion(self) -> str:
        return "chatcmpl-" + self._alnum(29)

    def request(self) -> str:
        return "req_" + self._hex(32)


class ApiError(Exception):
    """An error answered in OpenAI's body shape: `{"error": {message, type, param, code}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(message=message, type=type, param=param, code=code)
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        return ErrorBody(error=self.detail)

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.status, headers=self.headers)


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
    """The request body decoded into `into`; a body that does not fit is a 400, as at OpenAI."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        param = _param_of(str(exc))
        raise ApiError(400, f"Invalid request body: {exc}", param=param) from None
    except msgspec.DecodeError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't"
            " using your HTTP library correctly.)",
        ) from None


def _param_of(message: str) -> str | None:
    marker = "`$."
    start = message.find(marker)
    if start < 0:
        return None
    end = message.find("`", start + 1)
    return message[start + len(marker) : end] or None


def openai_middleware(api_key: str | None, ids: Ids) -> Middleware:
    """Auth, `x-request-id` on every reply, and OpenAI error bodies for unknown routes.

    The key is compared in constant time and never echoed, logged or stored anywhere else.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = ids.request()
        try:
            _authorize(request, api_key)
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPNotFound:
            response = ApiError(404, f"Invalid URL ({request.method} {request.path})").response()
        except web.HTTPMethodNotAllowed:
            response = ApiError(
                405, f"Method not allowed ({request.method} {request.path})"
            ).response()
        if not response.prepared:
            response.headers["x-request-id"] = request_id
        return response

    return middleware


def _authorize(request: web.Request, api_key: str | None) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization"
            " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if api_key is not None and not hmac.compare_digest(given.encode(), api_key.encode()):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
