"""Together runs the provider conformance kit against its own emulator."""

from __future__ import annotations

from batchery.testing import ProviderConformance
from batchery_together import TogetherModule


class TestTogetherConformance(ProviderConformance):
    module = TogetherModule
