"""HTTP to OpenAI: the key and account headers and OpenAI's error mapping.

Timeouts, the GET retry policy and streamed downloads are `batchery.http`'s. The key appears in
the `Authorization` header and nowhere else: messages name the method, the path and OpenAI's
error type and code, never the base URL or a header.
"""

from __future__ import annotations

from batchery.http import ProviderHttp, Reply
from batchery.model import ErrorInfo

from ._errors import classify, decode_error_body
from ._options import OpenAIOptions

__all__ = ["OpenAIHttp"]


class OpenAIHttp(ProviderHttp[OpenAIOptions]):
    """One account's requests through a shared session."""

    title = "OpenAI"

    __slots__ = ()

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.options.api_key is not None:
            headers["Authorization"] = f"Bearer {self.options.api_key.reveal()}"
        if self.options.organization:
            headers["OpenAI-Organization"] = self.options.organization
        if self.options.project:
            headers["OpenAI-Project"] = self.options.project
        return headers

    def url(self, path: str) -> str:
        return self.options.url(path)

    def classify(self, reply: Reply) -> ErrorInfo:
        body = decode_error_body(reply.body)
        return classify(reply.status, body, headers=reply.headers, secret=self.options.api_key)
