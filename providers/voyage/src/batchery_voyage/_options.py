"""How to reach one Voyage AI account: key, base URL, request choices and time budgets."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping

import aiohttp
import msgspec
from batchery.secrets import Secret

__all__ = ["DEFAULT_BASE_URL", "VoyageOptions", "create_session", "session_resource"]

DEFAULT_BASE_URL = "https://api.voyageai.com/v1"


class VoyageOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Connection settings for one Voyage account.

    The key is a `Secret`, so the repr never shows it. `base64` asks the realtime embedding
    endpoints for base64 float32 vectors, which halves what crosses the wire; `batch_base64`
    asks the same of batches through `request_params`, which Voyage documents only by example,
    so it is off unless chosen. `truncation` is sent explicitly (Voyage's default is true) so a
    change of server default cannot change results. Retries apply to idempotent GETs only: a
    create is never repeated by the client (see `batchery.spi`).
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    base64: bool = True
    batch_base64: bool = False
    truncation: bool = True
    request_timeout_s: float = 60.0
    upload_timeout_s: float = 600.0
    max_get_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    retry_after_cap_s: float = 60.0
    max_connections: int = 64

    def __post_init__(self) -> None:
        if self.max_get_attempts < 1:
            raise ValueError("max_get_attempts must be at least 1")
        if self.request_timeout_s <= 0 or self.upload_timeout_s <= 0:
            raise ValueError("timeouts must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VoyageOptions:
        """Options from `VOYAGE_API_KEY` and `VOYAGE_BASE_URL`; empty variables count as unset."""
        env = os.environ if environ is None else environ
        key = env.get("VOYAGE_API_KEY") or None
        return cls(
            api_key=Secret(key) if key else None,
            base_url=env.get("VOYAGE_BASE_URL") or DEFAULT_BASE_URL,
        )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def create_session(options: VoyageOptions) -> aiohttp.ClientSession:
    """A session sized for one account; call it inside a running event loop.

    Per-request timeouts are set by the client; this default only bounds connecting and idle
    reads, so a forgotten request cannot hang forever.
    """
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=options.request_timeout_s,
        sock_read=options.request_timeout_s,
    )
    connector = aiohttp.TCPConnector(limit=options.max_connections, limit_per_host=0)
    return aiohttp.ClientSession(
        timeout=timeout,
        connector=connector,
        raise_for_status=False,
        headers={"User-Agent": "batchery-voyage"},
    )


async def session_resource(options: VoyageOptions) -> AsyncIterator[aiohttp.ClientSession]:
    """The session as an async-generator resource: yielded open, closed on shutdown."""
    session = create_session(options)
    try:
        yield session
    finally:
        await session.close()
