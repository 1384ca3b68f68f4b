"""Anthropic for Batchery: Message Batches, realtime Messages, and an emulator."""

from batchery_anthropic._ids import from_wire, id_problem, to_wire
from batchery_anthropic._module import AnthropicModule
from batchery_anthropic._options import (
    AnthropicOptions,
    create_session,
    options_from,
)
from batchery_anthropic._provider import AnthropicProvider

__all__ = [
    "AnthropicModule",
    "AnthropicOptions",
    "AnthropicProvider",
    "create_session",
    "from_wire",
    "id_problem",
    "options_from",
    "to_wire",
]
