"""Batchery's conformance kit for provider modules, built in or third party.

Subclass `ProviderConformance` in a test module (pytest), or call `validate(module)` and read
the `ConformanceReport`; `python -m batchery.testing NAME` does the latter for an installed
provider plugin. Every check runs against the provider's own emulator over real HTTP. See
docs/write-a-provider.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchery.testing._convention import ConventionError
from batchery.testing._emulator_process import emulator_process
from batchery.testing._kit import (
    ConformanceFailure,
    Kit,
    KitConfig,
    RequestFactory,
    Unsupported,
    probe_request,
)
from batchery.testing._registry import CHECKS, Check
from batchery.testing.capabilities import CAPABILITIES, Capability, Support, detect_support
from batchery.testing.report import CheckResult, ConformanceReport, validate

if TYPE_CHECKING:
    from batchery.testing.conformance import ProviderConformance

__all__ = [
    "CAPABILITIES",
    "CHECKS",
    "Capability",
    "Check",
    "CheckResult",
    "ConformanceFailure",
    "ConformanceReport",
    "ConventionError",
    "Kit",
    "KitConfig",
    "ProviderConformance",
    "RequestFactory",
    "Support",
    "Unsupported",
    "detect_support",
    "emulator_process",
    "probe_request",
    "validate",
]


def __getattr__(name: str) -> object:
    """`ProviderConformance` imports pytest, so it is loaded only when asked for."""
    if name == "ProviderConformance":
        from batchery.testing.conformance import ProviderConformance

        return ProviderConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
