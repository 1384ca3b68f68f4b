"""The kit's own parts: capability detection, planning, the report and the convention checks."""

from __future__ import annotations

import pytest
from batchery.model import RequestKind
from batchery.modules import Module
from batchery.spi import ProviderInfo, ProviderLimits
from batchery.testing import (
    CAPABILITIES,
    CHECKS,
    CheckResult,
    ConformanceReport,
    ConventionError,
    KitConfig,
    ProviderConformance,
    detect_support,
    probe_request,
)
from batchery.testing.report import plan

LIMITS = ProviderLimits(max_requests_per_batch=10, max_bytes_per_batch=1000)


def _info(*, batch: bool = True, realtime: bool = True) -> ProviderInfo:
    kinds = frozenset({RequestKind.EMBEDDING})
    return ProviderInfo(
        name="demo", title="Demo", kinds=kinds, limits=LIMITS, batch=batch, realtime=realtime
    )


def test_a_capability_is_supported_when_the_emulator_accepts_its_faults() -> None:
    support = detect_support(_info(), {"token_limit", "http_429"})
    assert support["batch_failure"].supported
    assert support["batch"].supported
    assert not support["rate_limits"].supported
    assert "retry_after" in support["rate_limits"].reason
    assert support["rate_limits"].required


def test_modes_the_provider_lacks_are_not_applicable() -> None:
    support = detect_support(_info(batch=False), set())
    assert not support["batch"].applies
    assert not support["batch"].required
    assert support["batch"].level == "not applicable"
    assert support["secrets"].required


def test_overrides_win_and_typos_are_refused() -> None:
    support = detect_support(_info(), set(), {"batch_expiry": True, "batch": False})
    assert support["batch_expiry"].supported
    assert not support["batch"].supported
    with pytest.raises(ValueError, match="unknown capabilities bach"):
        detect_support(_info(), set(), {"bach": True})


def test_an_unsupported_required_capability_fails_and_an_optional_one_skips() -> None:
    support = detect_support(_info(), set())
    outcome, reason = plan(CHECKS["batch_expired"], support["batch_expiry"]) or ("", "")
    assert outcome == "failed"
    assert "Troubleshooting" in reason
    assert plan(CHECKS["realtime_overloaded"], support["overloaded"]) == (
        "skipped",
        "capability 'overloaded' is unsupported: the emulator refuses fault http_529",
    )
    assert plan(CHECKS["batch_completed"], support["batch"]) is None


def test_every_check_has_troubleshooting_a_known_capability_and_a_test() -> None:
    for check in CHECKS.values():
        assert check.troubleshooting, check.name
        assert check.capability in CAPABILITIES
        assert getattr(ProviderConformance, f"test_{check.name}").__doc__ == check.doc


def test_the_report_counts_required_and_optional_checks() -> None:
    results = (
        CheckResult("batch_completed", "batch", "required", "passed"),
        CheckResult("batch_expired", "batch_expiry", "required", "failed", "ended completed"),
        CheckResult("realtime_overloaded", "overloaded", "optional", "skipped", "unsupported"),
    )
    report = ConformanceReport("demo", "Demo", results)
    assert not report.passed_required
    assert report.failed == (results[1],)
    text = report.render()
    assert "FAILED   batch_expired" in text
    assert "1 of 2 required passed; 0 optional passed, 1 skipped as unsupported" in text


def test_probe_requests_take_the_first_kind_served_and_its_default_model() -> None:
    info = ProviderInfo(
        name="demo",
        title="Demo",
        kinds=frozenset({RequestKind.RERANK, RequestKind.EMBEDDING}),
        limits=LIMITS,
        default_models={RequestKind.EMBEDDING: "embed-1"},
    )
    request = probe_request(info, "id-1", 1, padding=40)
    assert request.kind is RequestKind.EMBEDDING
    assert request.model == "embed-1"
    assert request.input is not None
    assert len(request.input) > 40


def test_a_module_off_the_convention_is_refused_with_a_reason() -> None:
    class BareModule(Module):
        exports = ("provider",)

    with pytest.raises(ConventionError, match="INFO must be a ProviderInfo"):
        KitConfig(module=BareModule)

    class NoEmulatorModule(Module):
        exports = ("provider",)
        INFO = _info()

    with pytest.raises(ConventionError, match="classmethod `emulator"):
        KitConfig(module=NoEmulatorModule)
