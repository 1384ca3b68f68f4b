"""HTTP plumbing for every route: Google error bodies, JSON replies, auth and a request log.

Errors follow Google's shape, `{"error": {"code": HTTP status, "message", "status", "details"}}`.
The key is taken from `x-goog-api-key` (or the `key` query parameter the API also accepts),
compared in constant time and never echoed; upload-session URLs authorise themselves by their
upload id, as Google's do, so the official SDK's key-less chunk requests are accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware
from batchery.emulator import json_response, key_matches

__all__ = [
    "ApiError",
    "RecordedRequest",
    "RequestLog",
    "decode_json",
    "google_middleware",
    "json_response",
]

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """An error answered in Google's body shape; `status` defaults from the HTTP code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.code, headers=self.headers)


async def decode_json(request: web.Request, into: type[T]) -> T:
    """The request body decoded into `into`; a body that does not fit is a 400, as at Google."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw or b"{}", type=into)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"Invalid JSON payload received. {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ApiError(400, "Invalid JSON payload received. Unexpected token.") from None


class RecordedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request as the emulator saw it: method, path with query, whether a key header came."""

    method: str
    url: str
    key_header: bool


class RequestLog:
    """The latest requests' methods and URLs in arrival order, for tests to inspect."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=size)

    def add(self, request: web.Request) -> None:
        self._entries.append(
            RecordedRequest(
                method=request.method,
                url=request.raw_path,
                key_header="x-goog-api-key" in request.headers,
            )
        )

    def entries(self) -> list[RecordedRequest]:
        return list(self._entries)


def _is_upload_session(request: web.Request) -> bool:
    return request.path.startswith("/upload/") and "upload_id" in request.query


def _authorize(request: web.Request, api_key: str | None) -> None:
    given = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
    if not given:
        raise ApiError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )
    if not key_matches(given, api_key):
        raise ApiError(
            400,
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        )


def google_middleware(api_key: str | None, log: RequestLog) -> Middleware:
    """Log, authorise, and answer Google error bodies for errors and unknown routes."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        log.add(request)
        try:
            if not _is_upload_session(request):
                _authorize(request, api_key)
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPNotFound:
            return ApiError(404, f"Method not found: {request.method} {request.path}").response()
        except web.HTTPMethodNotAllowed:
            return ApiError(405, f"Method not allowed: {request.method} {request.path}").response()

    return middleware
