"""Gemini runs the provider conformance kit against its own emulator."""

from __future__ import annotations

from types import MappingProxyType

from batchery.testing import ProviderConformance
from batchery_gemini import GeminiModule


class TestGeminiConformance(ProviderConformance):
    module = GeminiModule
    # A Gemini job that reaches JOB_STATE_EXPIRED has no results to retrieve, so an expired
    # batch cannot deliver the requests it finished; the rest of expiry is still tested.
    capabilities = MappingProxyType({"expired_results": False})
