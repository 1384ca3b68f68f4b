"""Anthropic runs the provider conformance kit against its own emulator."""

from __future__ import annotations

from batchery.testing import ProviderConformance
from batchery_anthropic import AnthropicModule


class TestAnthropicConformance(ProviderConformance):
    module = AnthropicModule
