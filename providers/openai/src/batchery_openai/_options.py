"""How to reach one OpenAI account: key, base URL, headers and the client's time budgets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from batchery import http
from batchery.http import HttpPolicy
from batchery.provider_kit import options_reader
from batchery.secrets import Secret

__all__ = ["OpenAIOptions", "create_session", "options_from"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIOptions(HttpPolicy, frozen=True, kw_only=True):
    """Connection settings for one OpenAI account.

    The key is a `Secret`, so the repr of these options never shows it. Retries apply to
    idempotent GETs only (`max_get_attempts` in all, jittered exponential backoff between
    `backoff_initial_s` and `backoff_max_s`, or the server's `retry-after` up to
    `retry_after_cap_s`): a create is never repeated by the client (see `batchery.spi`).
    `completion_window` is sent on every batch create; OpenAI accepts only "24h", while some
    compatible servers take other windows. The timeouts and retry knobs are
    `batchery.http.HttpPolicy`'s.
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    organization: str | None = None
    project: str | None = None
    upload_timeout_s: float = 600.0
    completion_window: str = "24h"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.upload_timeout_s <= 0:
            raise ValueError("timeouts must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenAIOptions:
        """Options from `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`.

        Empty variables count as unset, as they do for the official SDK.
        """
        env = os.environ if environ is None else environ
        key = env.get("OPENAI_API_KEY") or None
        return cls(
            api_key=Secret(key) if key else None,
            base_url=env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            organization=env.get("OPENAI_ORG_ID") or None,
            project=env.get("OPENAI_PROJECT_ID") or None,
        )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


create_session = partial(http.create_session, user_agent="batchery-openai")
"""A session sized for these options; call it inside a running event loop."""


options_from = options_reader(OpenAIOptions.from_env, provider="openai")
