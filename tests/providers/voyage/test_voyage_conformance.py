"""Voyage runs the provider conformance kit against its own emulator."""

from __future__ import annotations

from batchery.testing import ProviderConformance
from batchery_voyage import VoyageModule


class TestVoyageConformance(ProviderConformance):
    module = VoyageModule
