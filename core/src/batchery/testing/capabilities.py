"""What a provider can be tested for, which of it is required, and how support is detected.

A capability is required when the provider offers the mode it belongs to (`ProviderInfo.batch`
or `.realtime`) and core relies on it; optional ones are extras core copes without. Whether the
kit can exercise a capability is read from the provider's emulator: a capability that needs
fault injection is supported when the emulator accepts every fault it names. A test class may
override any of this, as SQLAlchemy's `Requirements` does, by naming the capability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from batchery.emulator import FAULTS
from batchery.modules import Module
from batchery.spi import EmulatorOptions, ProviderInfo
from batchery.testing._convention import make_emulator

__all__ = [
    "CAPABILITIES",
    "Capability",
    "Support",
    "detect_support",
    "emulator_faults",
]

Mode = Literal["batch", "realtime", "any"]


@dataclass(frozen=True, slots=True)
class Capability:
    """One testable behaviour: the mode it belongs to and the emulator faults it needs."""

    name: str
    summary: str
    mode: Mode
    required: bool
    faults: frozenset[str] = frozenset()


def _cap(name: str, summary: str, mode: Mode, required: bool, *faults: str) -> Capability:
    return Capability(name, summary, mode, required, frozenset(faults))


CAPABILITIES: Mapping[str, Capability] = {
    c.name: c
    for c in (
        _cap("batch", "batch lifecycle, cancel, chunking and custom ids", "batch", True),
        _cap("batch_expiry", "a batch that expires", "batch", True, "batch_expire"),
        _cap("expired_results", "an expired batch keeps its results", "batch", False,
             "batch_expire"),
        _cap("all_errors", "a completed batch with no output", "batch", True, "all_errors"),
        _cap("malformed_lines", "unreadable result lines", "batch", True, "malformed"),
        _cap("duplicate_lines", "result lines written twice", "batch", True, "duplicate"),
        _cap("unknown_ids", "result lines for ids nobody sent", "batch", True, "unknown_id"),
        _cap("shuffled_lines", "results in any order", "batch", True, "shuffle"),
        _cap("lost_create", "reconcile a create whose reply was lost", "batch", True,
             "create_lost"),
        _cap("dropped_create", "reconcile a create whose connection dropped", "batch", False,
             "create_dropped"),
        _cap("batch_failure", "a batch that fails validation", "batch", False, "token_limit"),
        _cap("transient_not_found", "404 just after create", "batch", False, "batch_404"),
        _cap("line_errors", "per-request errors in a batch", "batch", False, "line_error"),
        _cap("empty_error_file", "an empty-string error file id", "batch", False,
             "empty_error_file"),
        _cap("realtime", "realtime calls and permanent errors", "realtime", True),
        _cap("rate_limits", "429 with retry-after", "realtime", True, "http_429", "retry_after"),
        _cap("server_errors", "500 and 503 are retryable", "realtime", True, "http_500",
             "http_503"),
        _cap("overloaded", "529 overloaded is retryable", "realtime", False, "http_529"),
        _cap("secrets", "the key never leaks", "any", True),
    )
}  # fmt: skip
"""Every capability the kit knows, in report order."""


@dataclass(frozen=True, slots=True)
class Support:
    """Whether one capability applies to this provider, is required, and can be tested."""

    capability: Capability
    applies: bool
    supported: bool
    reason: str = ""

    @property
    def required(self) -> bool:
        return self.applies and self.capability.required

    @property
    def level(self) -> str:
        if not self.applies:
            return "not applicable"
        return "required" if self.capability.required else "optional"


def _applies(capability: Capability, info: ProviderInfo) -> bool:
    if capability.mode == "batch":
        return info.batch
    if capability.mode == "realtime":
        return info.realtime
    return True


def detect_support(
    info: ProviderInfo, faults: Iterable[str], overrides: Mapping[str, bool] | None = None
) -> dict[str, Support]:
    """Support for every capability, from `info`, the emulator's `faults` and `overrides`.

    Raises ValueError for an override naming no capability, so a typo cannot hide a test.
    """
    given = dict(overrides or {})
    unknown = sorted(set(given) - set(CAPABILITIES))
    if unknown:
        known = ", ".join(CAPABILITIES)
        raise ValueError(f"unknown capabilities {', '.join(unknown)}; known: {known}")
    accepted = frozenset(faults)
    result: dict[str, Support] = {}
    for name, capability in CAPABILITIES.items():
        applies = _applies(capability, info)
        if not applies:
            mode = capability.mode
            result[name] = Support(capability, False, False, f"{info.name} has no {mode} mode")
        elif name in given:
            said = "supported" if given[name] else "unsupported"
            result[name] = Support(capability, True, given[name], f"declared {said}")
        else:
            missing = sorted(capability.faults - accepted)
            reason = f"the emulator refuses fault {', '.join(missing)}" if missing else ""
            result[name] = Support(capability, True, not missing, reason)
    return result


async def emulator_faults(module: type[Module]) -> frozenset[str]:
    """The faults of `batchery.emulator.FAULTS` the module's emulator accepts.

    Each fault is tried alone: an emulator must refuse a fault it does not implement with
    ValueError, either when it is made or when it starts (`FaultPlan.parse(allowed=...)`).
    """
    accepted: set[str] = set()
    for name in FAULTS:
        try:
            emulator = make_emulator(module, EmulatorOptions(faults=name))
            await emulator.start()
        except ValueError:
            continue
        await emulator.close()
        accepted.add(name)
    return frozenset(accepted)
