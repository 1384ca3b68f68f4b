"""An OpenAI-compatible server runs the conformance kit, with and without its Batch API.

Such a server serves the models its owner names, so the kit's probe requests need a default
model; with `batch=false` every batch check is reported as not applicable.
"""

from __future__ import annotations

from types import MappingProxyType

from batchery.testing import ProviderConformance
from batchery_openai_compatible import OpenAICompatibleModule


class TestOpenAICompatibleConformance(ProviderConformance):
    module = OpenAICompatibleModule
    module_options = MappingProxyType({"default_model": "emulated-chat"})


class TestOpenAICompatibleRealtimeOnlyConformance(ProviderConformance):
    module = OpenAICompatibleModule
    module_options = MappingProxyType({"default_model": "emulated-chat", "batch": "false"})
