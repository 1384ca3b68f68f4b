"""Endpoint identity: one spelling per base URL, no secrets in it, and emulators known as such."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from batchery.endpoints import endpoint_of, normalise_base_url, serves_emulator
from batchery.model import Endpoint
from batchery.spi import EmulatorOptions
from batchery_openai import OpenAIModule
from batchery_openai.emulator import OpenAIEmulator


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("HTTPS://API.OpenAI.com:443/v1", "https://api.openai.com/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://[::1]:80/v1/", "http://[::1]/v1"),
        ("https://user:sk-secret@host.example/v1?key=sk-secret#x", "https://host.example/v1"),
    ],
)
def test_a_base_url_has_one_spelling_and_never_carries_credentials(given: str, normal: str) -> None:
    assert normalise_base_url(given) == normal


async def test_an_emulator_reached_over_its_url_is_known_as_an_emulator() -> None:
    async with OpenAIEmulator(EmulatorOptions()) as emulator:
        base_url = emulator.base_url
        assert await serves_emulator(base_url)
        endpoint = await endpoint_of(OpenAIModule.INFO, {"base_url": base_url + "/"})

    assert endpoint == Endpoint(provider="openai", base_url=base_url, emulated=True)


async def test_a_server_that_is_not_an_emulator_is_real() -> None:
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert not await serves_emulator(f"http://127.0.0.1:{port}/v1")
    finally:
        await runner.cleanup()


async def test_nothing_listening_is_not_an_emulator() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not await serves_emulator(f"http://127.0.0.1:{port}/v1")


async def test_without_a_base_url_the_endpoint_is_the_providers_public_host() -> None:
    endpoint = await endpoint_of(OpenAIModule.INFO, {}, environ={})

    assert endpoint == Endpoint(provider="openai")
    assert endpoint.key == "openai|default|real"


async def test_the_providers_base_url_variable_names_the_endpoint() -> None:
    environ = {"OPENAI_BASE_URL": "https://gateway.example/openai/v1/"}

    endpoint = await endpoint_of(OpenAIModule.INFO, {}, environ=environ)

    assert endpoint.base_url == "https://gateway.example/openai/v1"
    assert not endpoint.emulated
