"""Batchery provider for any server that speaks OpenAI's Files and Batches API.

vLLM, Groq, Fireworks or Azure's v1 endpoint: the base URL, the key's variable and every
capability are configured, not assumed (see `CompatibleOptions`). Together, whose Batch API
differs from OpenAI's, has a provider of its own (`batchery-together`).
"""

from batchery_openai_compatible._module import OpenAICompatibleModule
from batchery_openai_compatible._options import (
    DEFAULT_KEY_ENV,
    CompatibleOptions,
    options_from,
    provider_info,
)
from batchery_openai_compatible._provider import OpenAICompatibleProvider

__all__ = [
    "DEFAULT_KEY_ENV",
    "CompatibleOptions",
    "OpenAICompatibleModule",
    "OpenAICompatibleProvider",
    "options_from",
    "provider_info",
]
