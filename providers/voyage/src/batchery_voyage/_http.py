"""HTTP to Voyage: the key header and Voyage's error mapping.

Timeouts, the GET retry policy and streamed downloads are `batchery.http`'s. The key travels in
the `Authorization` header and nowhere else: messages name the method, the path and Voyage's
`detail`, never the base URL or a header.
"""

from __future__ import annotations

from batchery.http import ProviderHttp, Reply
from batchery.model import ErrorInfo

from ._errors import classify, message_of
from ._options import VoyageOptions

__all__ = ["VoyageHttp"]


class VoyageHttp(ProviderHttp[VoyageOptions]):
    """One account's requests through a shared session."""

    title = "Voyage"

    __slots__ = ()

    def headers(self) -> dict[str, str]:
        key = self.options.api_key
        return {} if key is None else {"Authorization": f"Bearer {key.reveal()}"}

    def url(self, path: str) -> str:
        return self.options.url(path)

    def classify(self, reply: Reply) -> ErrorInfo:
        message = message_of(reply.body)
        return classify(reply.status, message, headers=reply.headers, secret=self.options.api_key)
