"""`VoyageModule`: its self-description, options over the environment, the entry point, and
the provider it builds inside an application."""

from __future__ import annotations

import pytest
from batchery.app import provider_modules
from batchery.model import RequestKind
from batchery.modules import Application
from batchery.plugins import discover_providers
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, Provider
from batchery_voyage import VoyageModule, VoyageOptions, VoyageProvider, options_from
from batchery_voyage.emulator import VoyageEmulator

KEY = "pa-MODULEcanary0123456789abcdef"


def test_info_says_what_voyage_offers() -> None:
    info = VoyageModule.INFO
    assert info is VoyageProvider.INFO
    assert (info.name, info.title) == ("voyage", "Voyage AI")
    assert info.kinds == {
        RequestKind.EMBEDDING,
        RequestKind.CONTEXTUAL_EMBEDDING,
        RequestKind.RERANK,
    }
    assert (info.batch, info.realtime, info.batch_discount) == (True, True, 0.33)
    assert info.limits.completion_window_s == 12 * 3600
    assert info.limits.max_requests_per_batch == 100_000
    assert info.limits.max_bytes_per_batch == 1_000_000_000
    assert (info.key_env, info.base_url_env) == ("VOYAGE_API_KEY", "VOYAGE_BASE_URL")
    assert set(info.default_models) == set(info.kinds)
    assert all(model in info.prices for model in info.default_models.values())
    assert info.prices["rerank-2.5"].input == 0.05


def test_the_entry_point_loads_the_module() -> None:
    entries = {entry.name: entry for entry in discover_providers()}
    assert entries["voyage"].module is VoyageModule
    assert provider_modules()["voyage"] is VoyageModule


def test_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", KEY)
    monkeypatch.setenv("VOYAGE_BASE_URL", "http://voyage.test/v1")
    options = options_from({})
    assert options.api_key == Secret(KEY)
    assert options.base_url == "http://voyage.test/v1"
    assert KEY not in repr(options)


def test_empty_environment_variables_count_as_unset() -> None:
    options = VoyageOptions.from_env({"VOYAGE_API_KEY": "", "VOYAGE_BASE_URL": ""})
    assert options.api_key is None
    assert options.base_url == "https://api.voyageai.com/v1"


def test_given_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", "pa-fromtheenvironment")
    monkeypatch.setenv("VOYAGE_BASE_URL", "http://env.test/v1")
    options = options_from(
        {"api_key": KEY, "base_url": "http://given.test/v1", "base64": "false", "truncation": "0"}
    )
    assert options.api_key == Secret(KEY)
    assert (options.base_url, options.base64, options.truncation) == (
        "http://given.test/v1",
        False,
        False,
    )
    assert options_from({"api_key": Secret(KEY)}).api_key == Secret(KEY)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="voyage provider options"):
        options_from({"request_timeout_s": "soon"})
    with pytest.raises(ValueError, match="at least 1"):
        VoyageOptions(max_get_attempts=0)


async def test_for_root_builds_a_provider_pointed_where_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VOYAGE_API_KEY", raising=False)
    app = await Application.create(
        VoyageModule.for_root(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    )
    try:
        provider = await app.get("voyage.provider")
        assert isinstance(provider, VoyageProvider)
        assert isinstance(provider, Provider)
        assert "http://127.0.0.1:9/v1" in repr(provider)
        assert KEY not in repr(provider)
    finally:
        await app.close()


async def test_the_module_makes_its_emulator() -> None:
    emulator = VoyageModule.emulator(EmulatorOptions(time_scale=10, faults="duplicate"))
    assert isinstance(emulator, VoyageEmulator)
    assert emulator.clock.time_scale == 10
    await emulator.start()
    try:
        assert emulator.base_url.startswith("http://127.0.0.1:")
    finally:
        await emulator.close()
