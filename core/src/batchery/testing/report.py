"""Running the checks outside pytest, and the report of what passed, failed or was skipped.

```python
report = await validate(MyProviderModule)
print(report.render())
assert report.passed_required
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from batchery.modules import Module
from batchery.spi import ProviderInfo
from batchery.testing import (
    _checks_batch,
    _checks_calls,
    _checks_chunks,
    _checks_results,
    _checks_secrets,
)
from batchery.testing._kit import ConformanceFailure, Kit, KitConfig, Unsupported
from batchery.testing._registry import CHECKS, Check, ordered
from batchery.testing.capabilities import Support, detect_support, emulator_faults

__all__ = [
    "CheckResult",
    "ConformanceReport",
    "Detected",
    "Outcome",
    "detect",
    "plan",
    "run_check",
    "validate",
]

_LOADED = (_checks_batch, _checks_results, _checks_chunks, _checks_calls, _checks_secrets)
"""The check modules, imported for the checks they register."""

Outcome = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    capability: str
    level: str
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Detected:
    """What the kit found out before running anything: the provider's info and support."""

    info: ProviderInfo
    faults: frozenset[str]
    support: Mapping[str, Support]


async def detect(config: KitConfig) -> Detected:
    """Probe the emulator's faults and boot the provider once to read its `info`."""
    faults = await emulator_faults(config.module)
    async with Kit(config).session() as session:
        info = session.info
    return Detected(info, faults, detect_support(info, faults, config.capabilities))


def plan(check: Check, support: Support) -> tuple[Outcome, str] | None:
    """The outcome decided without running `check` (skipped or failed), or None to run it."""
    if not support.applies:
        return "skipped", f"not applicable: {support.reason}"
    if support.supported:
        return None
    reason = f"capability {support.capability.name!r} is unsupported: {support.reason}"
    if support.required:
        return "failed", f"required {reason}. Troubleshooting: {check.troubleshooting}"
    return "skipped", reason


async def run_check(check: Check, config: KitConfig, detected: Detected) -> CheckResult:
    """Run one check in a fresh kit, turning every outcome into a `CheckResult`."""
    support = detected.support[check.capability]
    decided = plan(check, support)
    if decided is not None:
        return CheckResult(check.name, check.capability, support.level, *decided)
    started = time.monotonic()
    outcome: Outcome = "passed"
    try:
        detail = await check.run(Kit(config, detected.faults)) or ""
    except Unsupported as exc:
        outcome, detail = "skipped", str(exc)
    except ConformanceFailure as exc:
        outcome, detail = "failed", str(exc)
    except Exception as exc:
        outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - started
    return CheckResult(check.name, check.capability, support.level, outcome, detail, seconds)


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """Every check's outcome for one provider, with its capability's level."""

    provider: str
    title: str
    results: tuple[CheckResult, ...]

    @property
    def passed_required(self) -> bool:
        """True when no required check failed or was skipped."""
        return all(r.outcome == "passed" for r in self.results if r.level == "required")

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.outcome == "failed")

    def render(self) -> str:
        """A plain-text table: required checks, then optional, then those not applicable."""
        lines = [f"batchery conformance: {self.provider} ({self.title})"]
        width = max((len(r.name) for r in self.results), default=0)
        cap_width = max((len(r.capability) for r in self.results), default=0)
        for level in ("required", "optional", "not applicable"):
            chosen = [r for r in self.results if r.level == level]
            if not chosen:
                continue
            lines.append(f"  {level}")
            for r in chosen:
                mark = r.outcome.upper() if r.outcome == "failed" else r.outcome
                detail = " ".join(r.detail.split())
                if len(detail) > 160:
                    detail = detail[:157] + "..."
                row = f"    {mark:<8} {r.name:<{width}}  {r.capability:<{cap_width}}  {detail}"
                lines.append(row.rstrip())
        lines.append("  " + self._totals())
        return "\n".join(lines)

    def _totals(self) -> str:
        required = [r for r in self.results if r.level == "required"]
        optional = [r for r in self.results if r.level == "optional"]
        passed = sum(r.outcome == "passed" for r in required)
        extra = sum(r.outcome == "passed" for r in optional)
        skipped = sum(r.outcome == "skipped" for r in optional)
        return (
            f"{passed} of {len(required)} required passed; {extra} optional passed, "
            f"{skipped} skipped as unsupported"
        )


async def validate(
    module: type[Module] | KitConfig,
    *,
    only: Iterable[str] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> ConformanceReport:
    """Run the kit (or the checks named in `only`) against the provider's own emulator."""
    config = module if isinstance(module, KitConfig) else KitConfig(module=module)
    chosen = ordered(CHECKS) if only is None else list(only)
    unknown = sorted(set(chosen) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    chosen = ordered(chosen)
    detected = await detect(config)
    results = []
    for name in chosen:
        result = await run_check(CHECKS[name], config, detected)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return ConformanceReport(detected.info.name, detected.info.title, tuple(results))
