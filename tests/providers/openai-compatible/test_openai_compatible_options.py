"""Options of the OpenAI-compatible provider: from code, from settings strings, into its info."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from batchery.model import LlmRequest, Message, RequestKind
from batchery.plugins import discover_providers, validate_provider
from batchery.secrets import Secret
from batchery.settings import load_settings
from batchery.spi import ProviderInfo, ProviderLimits
from batchery_openai import OpenAIOptions, create_session
from batchery_openai_compatible import (
    DEFAULT_KEY_ENV,
    OpenAICompatibleModule,
    OpenAICompatibleProvider,
    options_from,
    provider_info,
)
from batchery_openai_compatible._options import openai_options

URL = "http://127.0.0.1:9/v1"
CHAT = RequestKind.CHAT
EMBEDDING = RequestKind.EMBEDDING


def test_the_module_is_a_valid_provider_plugin_with_cautious_defaults() -> None:
    assert validate_provider("openai-compatible", OpenAICompatibleModule) is OpenAICompatibleModule
    loaded = {e.name: e for e in discover_providers(environ={})}["openai-compatible"]
    assert loaded.error is None
    assert loaded.module is OpenAICompatibleModule
    info = OpenAICompatibleModule.INFO
    assert (info.name, info.kinds, info.batch, info.realtime) == (
        "openai-compatible",
        frozenset({CHAT}),
        True,
        True,
    )
    assert (info.batch_discount, info.default_models, info.key_env) == (0.0, {}, None)
    assert info.limits.max_bytes_per_batch <= 100_000_000


def test_only_base_url_is_needed() -> None:
    options = options_from({"base_url": URL}, environ={})
    info = provider_info(options)
    assert options.api_key is None
    assert options.key_env == DEFAULT_KEY_ENV
    assert info.key_env == DEFAULT_KEY_ENV
    assert msgspec.structs.replace(info, key_env=None) == OpenAICompatibleModule.INFO


def test_native_options_from_code_reach_the_info() -> None:
    options = options_from(
        {
            "base_url": URL + "/",
            "api_key": "tg-code-key",
            "kinds": [CHAT, "embedding"],
            "batch": False,
            "max_requests_per_batch": 1000,
            "max_bytes_per_batch": 5_000_000,
            "batch_discount": 0.5,
            "completion_window": "2d",
            "default_model": {CHAT: "llama", "embedding": "bge"},
        },
        environ={},
    )
    assert options.api_key == Secret("tg-code-key")
    assert provider_info(options) == ProviderInfo(
        name="openai-compatible",
        title="OpenAI-compatible server",
        kinds=frozenset({CHAT, EMBEDDING}),
        limits=ProviderLimits(
            max_requests_per_batch=1000,
            max_bytes_per_batch=5_000_000,
            completion_window_s=2 * 86400.0,
        ),
        batch=False,
        batch_discount=0.5,
        default_models={CHAT: "llama", EMBEDDING: "bge"},
        key_env=DEFAULT_KEY_ENV,
    )
    client = openai_options(options)
    assert (client.base_url, client.completion_window) == (URL + "/", "2d")
    assert client.url("/files") == URL + "/files"


def test_settings_strings_are_converted() -> None:
    options = options_from(
        {
            "base_url": f"  {URL}  ",
            "kinds": " Chat , embedding ",
            "batch": "false",
            "max_requests_per_batch": "250",
            "max_bytes_per_batch": "1000000",
            "batch_discount": "0.25",
            "completion_window": "90m",
            "default_model": "meta-llama/Llama-3.1-8B-Instruct",
        },
        environ={},
    )
    info = provider_info(options)
    assert options.base_url == URL
    assert info.kinds == frozenset({CHAT, EMBEDDING})
    assert not info.batch
    assert info.limits == ProviderLimits(
        max_requests_per_batch=250, max_bytes_per_batch=1_000_000, completion_window_s=5400.0
    )
    assert info.batch_discount == 0.25
    assert info.default_models == dict.fromkeys(
        (CHAT, EMBEDDING), "meta-llama/Llama-3.1-8B-Instruct"
    )


def test_a_settings_file_configures_the_module(tmp_path: Path) -> None:
    config = tmp_path / "batchery.toml"
    config.write_text(
        '[providers.openai-compatible]\nbase_url = "https://api.together.xyz/v1"\n'
        'key_env = "TOGETHER_API_KEY"\nkinds = "chat"\nbatch_discount = "0.5"\n'
        'default_model = "chat=meta-llama/Llama-3.3-70B-Instruct-Turbo"\n'
    )
    environ = {"TOGETHER_API_KEY": "tg-secret-from-env"}
    loaded = load_settings(config_file=config, environ=environ)
    given = loaded.settings.providers["openai-compatible"]
    options = options_from(given, environ=environ)
    assert options.api_key == Secret("tg-secret-from-env")
    assert provider_info(options).key_env == "TOGETHER_API_KEY"
    assert provider_info(options).default_models == {
        CHAT: "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    }


def test_the_key_comes_from_key_env_and_an_explicit_key_wins() -> None:
    environ = {"GROQ_API_KEY": "gsk-from-env", DEFAULT_KEY_ENV: "default-key"}
    assert options_from({"base_url": URL}, environ=environ).api_key == Secret("default-key")
    named = options_from({"base_url": URL, "key_env": "GROQ_API_KEY"}, environ=environ)
    assert named.api_key == Secret("gsk-from-env")
    given = {"base_url": URL, "key_env": "GROQ_API_KEY", "api_key": Secret("explicit")}
    assert options_from(given, environ=environ).api_key == Secret("explicit")


def test_a_named_key_variable_must_be_set() -> None:
    with pytest.raises(ValueError, match="TOGETHER_API_KEY is not set") as caught:
        options_from({"base_url": URL, "key_env": "TOGETHER_API_KEY"}, environ={})
    assert "key_env" in str(caught.value)


def test_a_key_pasted_into_key_env_is_refused_without_being_echoed() -> None:
    pasted = "gsk_live0123456789abcdefCANARY"
    with pytest.raises(ValueError, match="key_env must name an environment variable") as caught:
        options_from({"base_url": URL, "key_env": pasted}, environ={})
    assert pasted not in str(caught.value)
    assert pasted[:12] not in str(caught.value)


def test_a_missing_base_url_names_the_option_and_where_to_set_it() -> None:
    for given in ({}, {"base_url": ""}, {"base_url": "   "}):
        with pytest.raises(ValueError, match="base_url") as caught:
            options_from(given, environ={})
        message = str(caught.value)
        assert "[providers.openai-compatible]" in message
        assert "--base-url" in message


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ({"base_url": "localhost:8000/v1"}, "must start with http"),
        ({"kinds": "chat,rerank"}, "kinds may hold only chat, embedding"),
        ({"kinds": " , "}, "at least one"),
        ({"kinds": 3}, "comma-separated"),
        ({"batch": "maybe"}, r"\$\.batch"),
        ({"max_requests_per_batch": "0"}, r"max_requests_per_batch"),
        ({"max_bytes_per_batch": "lots"}, r"max_bytes_per_batch"),
        ({"batch_discount": "1.5"}, r"batch_discount"),
        ({"completion_window": "soon"}, "completion_window"),
        ({"completion_window": "0h"}, "completion_window"),
        ({"default_model": "chat=a,embedding=b"}, "configured kinds"),
        ({"default_model": "chat="}, "KIND=MODEL"),
        ({"default_model": ""}, "default_model"),
        ({"api_key": 42}, "api_key must be a string"),
        ({"base_urll": URL}, "unknown option.*base_urll"),
    ],
)
def test_bad_options_are_refused_with_the_option_named(
    given: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        options_from({"base_url": URL, **given}, environ={})


async def test_the_provider_reports_the_configured_info_and_needs_a_model() -> None:
    options = options_from(
        {"base_url": URL, "kinds": "chat,embedding", "default_model": "embedding=bge"},
        environ={},
    )
    session = create_session(OpenAIOptions())
    try:
        provider = OpenAICompatibleProvider(
            openai_options(options), session, info=provider_info(options)
        )
        bare = OpenAICompatibleProvider(openai_options(options), session)
    finally:
        await session.close()
    assert provider.info == provider_info(options)
    assert bare.info is OpenAICompatibleModule.INFO
    chat = LlmRequest(custom_id="c", messages=(Message("user", "hi"),))
    embedding = LlmRequest(custom_id="e", kind=EMBEDDING, input="text")
    problem = provider.check(chat)
    assert problem is not None
    assert "default_model" in problem
    assert provider.check(msgspec.structs.replace(chat, model="llama")) is None
    assert provider.check(embedding) is None
    assert provider.batch_size_of(embedding) == provider.batch_size_of(
        msgspec.structs.replace(embedding, model="bge")
    )
    failed = await provider.call(chat)
    assert failed.error is not None
    assert (failed.ok, failed.provider, failed.error.code) == (
        False,
        "openai-compatible",
        "invalid_request",
    )
