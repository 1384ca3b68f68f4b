"""How to reach one Gemini API project: key, base URL, API version and the client's budgets."""

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
    "GeminiOptions",
    "create_session",
    "options_from",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
INLINE_MAX_BYTES = 20_000_000
"""The documented inline limit ("under 20 MB"), read as decimal megabytes, the smaller reading."""
_UPLOAD_GRANULE = 256 * 1024


class GeminiOptions(HttpPolicy, frozen=True, kw_only=True):
    """Connection settings for one Gemini API project.

    The key is a `Secret`, so the repr never shows it; it travels only in the `x-goog-api-key`
    header, never in a URL. Only idempotent GETs are retried (`max_get_attempts` in all, jittered
    exponential backoff, or the server's `RetryInfo` delay up to `retry_after_cap_s`); a create is
    sent once. A batch whose inline create body would be smaller than `inline_max_bytes` is sent
    inline, a larger one as a JSONL file (0 sends every batch as a file). Files go up in chunks of
    `upload_chunk_bytes`, a multiple of 256 KiB as the resumable protocol requires.
    `max_list_pages` bounds the batch listing that reconciles a lost create. The timeouts and
    retry knobs are `batchery.http.HttpPolicy`'s.
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    api_version: str = "v1beta"
    upload_timeout_s: float = 600.0
    inline_max_bytes: int = INLINE_MAX_BYTES
    upload_chunk_bytes: int = 32 * _UPLOAD_GRANULE
    max_list_pages: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.upload_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.upload_chunk_bytes < _UPLOAD_GRANULE or self.upload_chunk_bytes % _UPLOAD_GRANULE:
            raise ValueError("upload_chunk_bytes must be a positive multiple of 262144")
        if not 0 <= self.inline_max_bytes <= INLINE_MAX_BYTES:
            raise ValueError(f"inline_max_bytes must be between 0 and {INLINE_MAX_BYTES}")
        if self.max_list_pages < 1:
            raise ValueError("max_list_pages must be at least 1")
        if not self.api_version or "/" in self.api_version:
            raise ValueError("api_version must be a single path segment such as 'v1beta'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GeminiOptions:
        """Options from `GEMINI_API_KEY` (else `GOOGLE_API_KEY`) and `GEMINI_BASE_URL`.

        Empty variables count as unset.
        """
        env = os.environ if environ is None else environ
        key = env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY") or None
        return cls(
            api_key=Secret(key) if key else None,
            base_url=env.get("GEMINI_BASE_URL") or DEFAULT_BASE_URL,
        )

    def url(self, path: str) -> str:
        """The URL of an API path such as `/v1beta/batches`; the key is never part of it."""
        return self.base_url.rstrip("/") + path

    def api_path(self, resource: str) -> str:
        """`/v1beta/` followed by `resource` (already quoted where it needs to be)."""
        return f"/{self.api_version}/{resource}"


create_session = partial(http.create_session, user_agent="batchery-gemini")
"""A session sized for these options; call it inside a running event loop."""


options_from = options_reader(GeminiOptions.from_env, provider="gemini")
