"""OpenAI runs the provider conformance kit against its own emulator."""

from __future__ import annotations

from batchery.testing import ProviderConformance
from batchery_openai import OpenAIModule


class TestOpenAIConformance(ProviderConformance):
    module = OpenAIModule
