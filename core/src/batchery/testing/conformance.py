"""`ProviderConformance`: the kit as a pytest base class a provider's tests subclass.

```python
from batchery.testing import ProviderConformance
from my_provider import MyProviderModule


class TestMyProvider(ProviderConformance):
    module = MyProviderModule
```

Nothing here is loaded unless a test imports it (there is no `pytest11` entry point), so a
broken plugin cannot stop anyone's pytest. The first test that runs registers a small plugin
that prints the capability report at the end of the session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import ClassVar

import pytest

from batchery.model import RequestKind
from batchery.modules import Module
from batchery.testing._convention import check_module
from batchery.testing._kit import Kit, KitConfig, Unsupported
from batchery.testing._registry import CHECKS, ordered
from batchery.testing.report import CheckResult, ConformanceReport, Detected, Outcome, detect, plan

__all__ = ["ProviderConformance"]

_DETECTED: dict[type, Detected] = {}


class _Recorder:
    """Collects each conformance test's outcome and prints one report per test class."""

    name = "batchery-conformance-report"

    def __init__(self) -> None:
        self.reports: dict[str, tuple[Detected, dict[str, CheckResult]]] = {}

    @classmethod
    def of(cls, config: pytest.Config) -> _Recorder:
        found = config.pluginmanager.get_plugin(cls.name)
        if isinstance(found, cls):
            return found
        recorder = cls()
        config.pluginmanager.register(recorder, cls.name)
        return recorder

    def record(self, owner: str, detected: Detected, result: CheckResult) -> None:
        self.reports.setdefault(owner, (detected, {}))[1][result.name] = result

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for owner, (detected, results) in self.reports.items():
            chosen = tuple(results[name] for name in ordered(results))
            report = ConformanceReport(detected.info.name, detected.info.title, chosen)
            terminalreporter.write_sep("-", f"batchery conformance: {owner}")
            for line in report.render().splitlines()[1:]:
                terminalreporter.write_line(line)


def _test(name: str) -> Callable[[ProviderConformance, pytest.FixtureRequest], None]:
    """The test method for check `name`, carrying the check's docstring."""
    check = CHECKS[name]

    def test(self: ProviderConformance, request: pytest.FixtureRequest) -> None:
        self.run_conformance_check(name, request)

    test.__name__ = f"test_{name}"
    test.__qualname__ = f"ProviderConformance.test_{name}"
    test.__doc__ = check.doc
    return test


class ProviderConformance:
    """The conformance kit for one provider module, run against the module's own emulator.

    Set `module`; the rest is optional. `capabilities` overrides detection by name (see
    `batchery.testing.CAPABILITIES`), `module_options` are extra `for_root` options, `kind` and
    `model` shape the probe requests, and `time_scale` speeds the emulator's clock. Override
    `kit_config` to pass anything else (a request factory). A required capability that is
    unsupported fails its tests; to ship anyway, override the test with
    `pytest.mark.xfail(strict=True, reason=...)` naming the gap.
    """

    module: ClassVar[type[Module]]
    module_options: ClassVar[Mapping[str, object]] = MappingProxyType({})
    capabilities: ClassVar[Mapping[str, bool]] = MappingProxyType({})
    kind: ClassVar[RequestKind | None] = None
    model: ClassVar[str | None] = None
    time_scale: ClassVar[float] = 1000.0

    test_batch_completed = _test("batch_completed")
    test_batch_not_found = _test("batch_not_found")
    test_batch_cancelled = _test("batch_cancelled")
    test_cancel_idempotent = _test("cancel_idempotent")
    test_chunk_sizes = _test("chunk_sizes")
    test_chunk_at_count_limit = _test("chunk_at_count_limit")
    test_custom_id_round_trip = _test("custom_id_round_trip")
    test_batch_failed = _test("batch_failed")
    test_batch_expired = _test("batch_expired")
    test_batch_expired_partial = _test("batch_expired_partial")
    test_batch_all_errors = _test("batch_all_errors")
    test_collect_malformed = _test("collect_malformed")
    test_collect_duplicates = _test("collect_duplicates")
    test_collect_unknown_ids = _test("collect_unknown_ids")
    test_collect_shuffled = _test("collect_shuffled")
    test_reconcile_lost_create = _test("reconcile_lost_create")
    test_reconcile_dropped_create = _test("reconcile_dropped_create")
    test_batch_transient_404 = _test("batch_transient_404")
    test_batch_line_errors = _test("batch_line_errors")
    test_collect_empty_error_file = _test("collect_empty_error_file")
    test_realtime_call = _test("realtime_call")
    test_realtime_permanent_error = _test("realtime_permanent_error")
    test_realtime_rate_limited = _test("realtime_rate_limited")
    test_realtime_server_errors = _test("realtime_server_errors")
    test_realtime_overloaded = _test("realtime_overloaded")
    test_secrets_never_leak = _test("secrets_never_leak")

    @classmethod
    def kit_config(cls) -> KitConfig:
        """The kit's configuration from the class attributes; override to add to it."""
        return KitConfig(
            module=check_module(getattr(cls, "module", None)),
            module_options=cls.module_options,
            capabilities=cls.capabilities,
            kind=cls.kind,
            model=cls.model,
            time_scale=cls.time_scale,
        )

    def run_conformance_check(self, name: str, request: pytest.FixtureRequest) -> None:
        """Run the check `name` and record its outcome for the end-of-session report.

        A failure keeps its own traceback, with the check's Troubleshooting paragraph added as
        a note.
        """
        check = CHECKS[name]
        owner = type(self)
        config = owner.kit_config()
        detected = _DETECTED.get(owner)
        if detected is None:
            detected = _DETECTED[owner] = asyncio.run(detect(config))
        support = detected.support[check.capability]
        label = f"{owner.__qualname__} ({detected.info.name})"
        recorder = _Recorder.of(request.config)

        def record(outcome: Outcome, detail: str = "", seconds: float = 0.0) -> None:
            result = CheckResult(name, check.capability, support.level, outcome, detail, seconds)
            recorder.record(label, detected, result)

        decided = plan(check, support)
        if decided is not None:
            record(*decided)
            if decided[0] == "skipped":
                pytest.skip(decided[1])
            pytest.fail(decided[1])
        started = time.monotonic()
        try:
            note = asyncio.run(check.run(Kit(config, detected.faults)))
        except Unsupported as exc:
            record("skipped", str(exc))
            pytest.skip(str(exc))
        except Exception as exc:
            record("failed", f"{type(exc).__name__}: {exc}", time.monotonic() - started)
            exc.add_note(f"Troubleshooting: {check.troubleshooting}")
            raise
        record("passed", note or "", time.monotonic() - started)


_missing = sorted(set(CHECKS) - {n.removeprefix("test_") for n in vars(ProviderConformance)})
if _missing:
    raise RuntimeError(f"checks without a ProviderConformance test: {', '.join(_missing)}")
