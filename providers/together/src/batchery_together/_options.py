"""How to reach one Together account: `TOGETHER_API_KEY` and `TOGETHER_BASE_URL`.

Together's chat wire is OpenAI's, so its options are `OpenAIOptions` with Together's address
and key; nothing is read from `OPENAI_*` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from batchery.provider_kit import options_reader
from batchery.secrets import Secret
from batchery_openai import OpenAIOptions

__all__ = ["DEFAULT_BASE_URL", "from_env", "options_from"]

DEFAULT_BASE_URL = "https://api.together.xyz/v1"


def from_env(environ: Mapping[str, str] | None = None) -> OpenAIOptions:
    """Options from `TOGETHER_API_KEY` and `TOGETHER_BASE_URL`; empty variables count as unset."""
    env = os.environ if environ is None else environ
    key = env.get("TOGETHER_API_KEY") or None
    return OpenAIOptions(
        api_key=Secret(key) if key else None,
        base_url=env.get("TOGETHER_BASE_URL") or DEFAULT_BASE_URL,
    )


options_from = options_reader(from_env, provider="together")
