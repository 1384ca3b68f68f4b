"""How to reach one Anthropic workspace: key, base URL, API version and the client's budgets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from batchery import http
from batchery.http import HttpPolicy
from batchery.provider_kit import options_reader
from batchery.secrets import Secret

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "AnthropicOptions",
    "create_session",
    "options_from",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens` on every request; this is used when a request gives none.

4096 is the largest output every current Claude model accepts, so it never causes a 400.
"""


class AnthropicOptions(HttpPolicy, frozen=True, kw_only=True):
    """Connection settings for one Anthropic workspace.

    The key is a `Secret`, so the repr never shows it. Paths carry their own `/v1`, so
    `base_url` is the bare origin, as the official SDK and `ANTHROPIC_BASE_URL` spell it.
    Idempotent calls (GETs, cancel) are retried up to `max_get_attempts` times with jittered
    backoff or the server's `retry-after` up to `retry_after_cap_s`; a create is sent once.
    Those knobs are `batchery.http.HttpPolicy`'s; `request_timeout_s` keeps its longer
    default of 120 s here.
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    version: str = API_VERSION
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    request_timeout_s: float = 120.0
    create_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.create_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.default_max_tokens < 1:
            raise ValueError("default_max_tokens must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AnthropicOptions:
        """Options from `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`; empty counts as unset."""
        env = os.environ if environ is None else environ
        key = env.get("ANTHROPIC_API_KEY") or None
        return cls(
            api_key=Secret(key) if key else None,
            base_url=env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
        )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


create_session = partial(http.create_session, user_agent="batchery-anthropic")
"""A session sized for these options; call it inside a running event loop."""


options_from = options_reader(AnthropicOptions.from_env, provider="anthropic")
