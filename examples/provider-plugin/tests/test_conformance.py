"""Echo passes Batchery's provider conformance kit against its own emulator."""

from batchery.testing import ProviderConformance
from batchery_echo import EchoModule


class TestEchoConformance(ProviderConformance):
    module = EchoModule
