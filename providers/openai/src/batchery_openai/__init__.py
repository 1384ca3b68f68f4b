"""OpenAI for Batchery: Files and Batches API, realtime chat and embeddings, and an emulator."""

from batchery_openai._module import OpenAIModule
from batchery_openai._options import OpenAIOptions, create_session, options_from
from batchery_openai._provider import OpenAIProvider

__all__ = [
    "OpenAIModule",
    "OpenAIOptions",
    "OpenAIProvider",
    "create_session",
    "options_from",
]
