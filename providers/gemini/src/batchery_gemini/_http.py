"""HTTP to the Gemini API: the key header, Google's error mapping and upload URLs.

Timeouts, the GET retry policy and streamed downloads are `batchery.http`'s. The key travels in
the `x-goog-api-key` header and nowhere else (never as `?key=`): messages name the method, the
path and Google's status, never the base URL, a query string or a header.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from batchery.http import ProviderHttp, Reply
from batchery.model import ErrorInfo

from ._errors import classify, decode_error_body
from ._options import GeminiOptions

__all__ = ["GeminiHttp"]

_S = TypeVar("_S")


class GeminiHttp(ProviderHttp[GeminiOptions]):
    """One project's requests through a shared session."""

    title = "Gemini"
    stream_above = 256 * 1024
    """Upload chunks and large inline batches are sent from a buffer, never inline."""

    __slots__ = ()

    def headers(self) -> dict[str, str]:
        key = self.options.api_key
        return {} if key is None else {"x-goog-api-key": key.reveal()}

    def url(self, path: str) -> str:
        return self.options.url(path)

    def classify(self, reply: Reply) -> ErrorInfo:
        body = decode_error_body(reply.body)
        return classify(reply.status, body, headers=reply.headers, secret=self.options.api_key)

    def same_origin(self, url: str) -> str:
        """`url` moved onto the configured scheme and host, as the official SDK does for uploads.

        An upload URL names the server that issued it; keeping requests on the configured host
        means nothing of ours is ever sent to a host we were not pointed at.
        """
        base = urlsplit(self.options.base_url)
        given = urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, given.path, given.query, ""))

    async def delete(self, path: str) -> bytes:
        """A DELETE sent once; any failure is raised."""
        return self._checked("DELETE", path, await self.send("DELETE", path))
