"""HTTP plumbing for every route: OpenAI's ids and error bodies, auth and request ids."""

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
)
from batchery.emulator import decode_json as decode_body

from batchery_openai.emulator._wire import ErrorBody, ErrorDetail

__all__ = ["ApiError", "Ids", "decode_json", "json_response", "openai_middleware"]

T = TypeVar("T")


class Ids(RandomIds):
    """OpenAI-shaped ids, unique across emulator instances as real ids are."""

    def file(self) -> str:
        return "file-" + self.alnum(22)

    def batch(self) -> str:
        return "batch_" + self.hex(32)

    def batch_request(self) -> str:
        return "batch_req_" + self.hex(32)

    def chat_completion(self) -> str:
        return "chatcmpl-" + self.alnum(29)

    def request(self) -> str:
        return "req_" + self.hex(32)


class ApiError(EmulatorError):
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
        super().__init__(status, message, headers=headers)
        self.detail = ErrorDetail(message=message, type=type, param=param, code=code)

    def body(self) -> ErrorBody:
        return ErrorBody(error=self.detail)


_UNKNOWN_FIELD = "Object contains unknown field `"


def _bad_body(problem: str | None) -> ApiError:
    if problem is None:
        return ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't"
            " using your HTTP library correctly.)",
        )
    if problem.startswith(_UNKNOWN_FIELD):
        name = problem.removeprefix(_UNKNOWN_FIELD).split("`")[0]
        return ApiError(400, f"Unrecognized request argument supplied: {name}", param=name)
    return ApiError(400, f"Invalid request body: {problem}", param=_param_of(problem))


async def decode_json(request: web.Request, into: type[T]) -> T:
    """The request body decoded into `into`; a body that does not fit is a 400, as at OpenAI."""
    return await decode_body(request, into, _bad_body)


def _param_of(message: str) -> str | None:
    marker = "`$."
    start = message.find(marker)
    if start < 0:
        return None
    end = message.find("`", start + 1)
    return message[start + len(marker) : end] or None


def _unknown_route(request: web.Request, status: int) -> ApiError:
    what = "Invalid URL" if status == 404 else "Method not allowed"
    return ApiError(status, f"{what} ({request.method} {request.path})")


def openai_middleware(api_key: str | None, ids: Ids) -> Middleware:
    """Auth, `x-request-id` on every reply, and OpenAI error bodies for unknown routes.

    The key is compared in constant time and never echoed, logged or stored anywhere else.
    """

    def authorize(request: web.Request) -> None:
        given = bearer_token(request)
        if not given:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an"
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if not key_matches(given, api_key):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    return api_middleware(authorize=authorize, unknown_route=_unknown_route, request_id=ids.request)
