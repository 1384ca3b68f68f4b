"""How to reach one Voyage AI account: key, base URL, request choices and time budgets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from batchery import http
from batchery.http import HttpPolicy
from batchery.provider_kit import options_reader
from batchery.secrets import Secret

__all__ = [
    "DEFAULT_BASE_URL",
    "VoyageOptions",
    "create_session",
    "options_from",
]

DEFAULT_BASE_URL = "https://api.voyageai.com/v1"


class VoyageOptions(HttpPolicy, frozen=True, kw_only=True):
    """Connection settings for one Voyage account.

    The key is a `Secret`, so the repr never shows it. `base64` asks the realtime embedding
    endpoints for base64 float32 vectors, which halves what crosses the wire; `batch_base64`
    asks the same of batches through `request_params`, which Voyage documents only by example,
    so it is off unless chosen. `truncation` is sent explicitly (Voyage's default is true) so a
    change of server default cannot change results. Retries apply to idempotent GETs only: a
    create is never repeated by the client (see `batchery.spi`); the retry knobs are
    `batchery.http.HttpPolicy`'s.
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    base64: bool = True
    batch_base64: bool = False
    truncation: bool = True
    upload_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.upload_timeout_s <= 0:
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


create_session = partial(http.create_session, user_agent="batchery-voyage")
"""A session sized for these options; call it inside a running event loop."""


options_from = options_reader(VoyageOptions.from_env, provider="voyage")
