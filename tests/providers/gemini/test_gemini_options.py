"""Options from the environment and from `for_root`, the module's wiring and its entry point."""

from __future__ import annotations

import pytest
from batchery.model import LlmRequest, Message
from batchery.modules import Application
from batchery.plugins import discover_providers
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, Provider
from batchery_gemini import GeminiModule, GeminiOptions, GeminiProvider, options_from
from batchery_gemini.emulator import GeminiEmulator


def test_the_key_comes_from_gemini_api_key_else_google_api_key() -> None:
    both = GeminiOptions.from_env({"GEMINI_API_KEY": "g-key", "GOOGLE_API_KEY": "o-key"})
    assert both.api_key == Secret("g-key")
    fallback = GeminiOptions.from_env({"GEMINI_API_KEY": "", "GOOGLE_API_KEY": "o-key"})
    assert fallback.api_key == Secret("o-key")
    assert GeminiOptions.from_env({}).api_key is None


def test_the_base_url_comes_from_gemini_base_url() -> None:
    assert GeminiOptions.from_env({}).base_url == "https://generativelanguage.googleapis.com"
    custom = GeminiOptions.from_env({"GEMINI_BASE_URL": "http://127.0.0.1:9/"})
    assert custom.url("/v1beta/batches") == "http://127.0.0.1:9/v1beta/batches"


def test_options_given_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://env.invalid")
    options = options_from({"base_url": "http://given.invalid", "api_key": "given-key"})
    assert options.base_url == "http://given.invalid"
    assert options.api_key == Secret("given-key")
    kept = options_from({"inline_max_bytes": "1000", "max_get_attempts": "2"})
    assert (kept.api_key, kept.base_url) == (Secret("from-env"), "http://env.invalid")
    assert (kept.inline_max_bytes, kept.max_get_attempts) == (1000, 2)


@pytest.mark.parametrize(
    "given",
    [
        {"max_get_attempts": 0},
        {"upload_chunk_bytes": 1000},
        {"inline_max_bytes": 30_000_000},
        {"api_version": "v1/x"},
        {"request_timeout_s": "soon"},
    ],
)
def test_bad_options_are_refused(given: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"gemini provider options|must"):
        options_from(given)


def test_reprs_never_show_the_key() -> None:
    key = "AIzaSyCANARYoptions0123456789abcdefghi"
    options = GeminiOptions(api_key=Secret(key))
    assert key not in repr(options)
    assert key not in str(options)


def test_the_module_is_registered_under_the_entry_point() -> None:
    entries = {entry.name: entry for entry in discover_providers()}
    assert entries["gemini"].module is GeminiModule
    info = GeminiModule.INFO
    assert info.name == "gemini"
    assert (info.key_env, info.base_url_env) == ("GEMINI_API_KEY", "GEMINI_BASE_URL")
    assert {kind.value for kind in info.kinds} == {"chat", "embedding"}
    assert isinstance(GeminiModule.emulator(EmulatorOptions()), GeminiEmulator)


async def test_for_root_builds_a_working_provider() -> None:
    key = "AIzaSyCANARYmodule0123456789abcdefghijk"
    async with GeminiEmulator(api_key=key) as emulator:
        app = await Application.create(
            GeminiModule.for_root(base_url=emulator.base_url, api_key=key)
        )
        try:
            provider = await app.get("gemini.provider", GeminiProvider)
            assert isinstance(provider, Provider)
            assert key not in repr(provider)
            result = await provider.call(
                LlmRequest(custom_id="a", messages=(Message("user", "hello"),))
            )
        finally:
            await app.close()
    assert result.ok, result.error
    assert (result.provider, result.model) == ("gemini", "gemini-2.5-flash")
