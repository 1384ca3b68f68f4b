"""HTTP plumbing for every route: ids, timestamps, JSON replies, error bodies, auth, request ids."""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware
from batchery.emulator import bearer_token, json_response, key_matches

from batchery_anthropic.emulator._wire import ErrorBody, ErrorObject

__all__ = [
    "ORGANIZATION_ID",
    "ApiError",
    "Ids",
    "decode_json",
    "derived_id",
    "json_response",
    "middleware",
    "rfc3339",
]

ORGANIZATION_ID = "0e3f5c1a-7b2d-4c8e-9f10-5e6d7a8b9c0d"
"""Sent as `anthropic-organization-id`, as real responses carry one."""

_ALNUM = string.ascii_letters + string.digits

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Ids:
    """Anthropic-shaped ids, unique across emulator instances as real ids are.

    Answers repeat with the request; ids must not, or a job store that outlived one emulator
    would mistake a restarted emulator's new batch for its own old one.
    """

    def __init__(self) -> None:
        self._rng = random.SystemRandom()

    def _tail(self) -> str:
        return "01" + "".join(self._rng.choice(_ALNUM) for _ in range(22))

    def batch(self) -> str:
        return "msgbatch_" + self._tail()

    def message(self) -> str:
        return "msg_" + self._tail()

    def request(self) -> str:
        return "req_" + self._tail()


def derived_id(prefix: str, *parts: object) -> str:
    """An id fixed by its parts, so ids made in worker threads and answers stay reproducible."""
    material = "\x1f".join([prefix, *map(str, parts)]).encode()
    return prefix + "01" + hashlib.blake2b(material, digest_size=11).hexdigest()


def rfc3339(when: float) -> str:
    """`2026-08-20T18:37:24.100435Z`: UTC with microseconds, as Anthropic writes timestamps."""
    stamp = datetime.fromtimestamp(when, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


class ApiError(Exception):
    """An error answered in Anthropic's shape: `{"type":"error","error":{type, message}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = ErrorObject(type=type, message=message)
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> ErrorBody:
        return ErrorBody(error=self.error, request_id=request_id)

    def response(self, request_id: str) -> web.Response:
        return json_response(self.body(request_id), status=self.status, headers=self.headers)


async def decode_json(request: web.Request, into: type[T]) -> T:
    """The request body decoded into `into`; a body that does not fit is a 400."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise ApiError(400, _field_message(str(exc))) from None
    except msgspec.DecodeError:
        raise ApiError(400, "The request body is not valid JSON.") from None


def _field_message(message: str) -> str:
    """msgspec's complaint in the `path.to.field: problem` form Anthropic's 400s use."""
    text, _, where = message.partition(" - at `$")
    path = where.rstrip("`").lstrip(".").replace("[", ".").replace("]", "")
    for marker, problem in (
        ("Object missing required field `", "Field required"),
        ("Object contains unknown field `", "Extra inputs are not permitted"),
    ):
        if text.startswith(marker):
            field = text[len(marker) :].rstrip("`")
            path, text = f"{path}.{field}" if path else field, problem
    return f"{path}: {text}" if path else text


def middleware(api_key: str | None, ids: Ids) -> Middleware:
    """Auth, the version header (any value), `request-id` on every reply, and error bodies.

    The key is compared in constant time and never echoed, logged or stored anywhere else.
    """

    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = ids.request()
        try:
            _authorize(request, api_key)
            if not request.headers.get("anthropic-version"):
                raise ApiError(400, "anthropic-version: header is required")
            response = await handler(request)
        except ApiError as exc:
            response = exc.response(request_id)
        except web.HTTPRequestEntityTooLarge:
            error = ApiError(413, "Request exceeds the maximum size.", type="request_too_large")
            response = error.response(request_id)
        except web.HTTPNotFound:
            response = ApiError(404, "Not found.", type="not_found_error").response(request_id)
        except web.HTTPMethodNotAllowed:
            message = f"Method {request.method} is not allowed on this path."
            response = ApiError(405, message).response(request_id)
        if not response.prepared:
            response.headers["request-id"] = request_id
            response.headers["anthropic-organization-id"] = ORGANIZATION_ID
        return response

    return handle


def _authorize(request: web.Request, api_key: str | None) -> None:
    """The key from `x-api-key`, or from `Authorization: Bearer`, which newer SDKs send."""
    given = request.headers.get("x-api-key", "").strip() or bearer_token(request)
    if not given:
        raise ApiError(401, "x-api-key header is required", type="authentication_error")
    if not key_matches(given, api_key):
        raise ApiError(401, "invalid x-api-key", type="authentication_error")
