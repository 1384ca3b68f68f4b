"""HTTP to Anthropic: the key and version headers, Anthropic's error mapping, results URLs.

Timeouts, the retry policy for idempotent calls (reads and cancel) and streamed downloads are
`batchery.http`'s. The key is in the `x-api-key` header and nowhere else: messages name the
method, the path and Anthropic's error type, never the base URL or a header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from batchery.http import ProviderHttp, Reply
from batchery.model import ErrorInfo

from ._errors import classify, decode_error_body
from ._options import AnthropicOptions

__all__ = ["AnthropicHttp"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class AnthropicHttp(ProviderHttp[AnthropicOptions]):
    """One workspace's requests through a shared session."""

    title = "Anthropic"

    __slots__ = ()

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.options.version}
        if self.options.api_key is not None:
            headers["x-api-key"] = self.options.api_key.reveal()
        return headers

    def url(self, path: str) -> str:
        return self.options.url(path)

    def classify(self, reply: Reply) -> ErrorInfo:
        body = decode_error_body(reply.body)
        return classify(reply.status, body, headers=reply.headers, secret=self.options.api_key)

    def same_origin(self, url: str) -> bool:
        """Whether `url` is served by the configured base URL's host, so the key may go there."""
        try:
            return _origin(url) == _origin(self.options.base_url)
        except ValueError:
            return False
