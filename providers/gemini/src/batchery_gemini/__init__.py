"""Gemini API for Batchery: batch mode (inline or File API input), realtime chat and embeddings.

The emulator lives in `batchery_gemini.emulator`.
"""

from batchery_gemini._module import GeminiModule
from batchery_gemini._options import GeminiOptions, create_session, options_from
from batchery_gemini._provider import GeminiProvider

__all__ = [
    "GeminiModule",
    "GeminiOptions",
    "GeminiProvider",
    "create_session",
    "options_from",
]
