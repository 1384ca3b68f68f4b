"""A rough token count for emulated `usage` and rate-limit accounting.

Real tokenizers average about four characters of English per token; emulators need a stable,
cheap number of the right size, not an exact one.
"""

from __future__ import annotations

__all__ = ["estimate_tokens"]

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, rounded up: 0 for an empty string, otherwise at least 1."""
    return -(-len(text) // CHARS_PER_TOKEN)
