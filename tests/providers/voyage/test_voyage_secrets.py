"""A canary key, shaped like no known key, never reaches a log, an exception, a repr or a result,
whatever path the provider takes: success, faults, unknown batches, a lost create, no server."""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Awaitable
from urllib.parse import quote

import pytest
import structlog
from batchery.model import LlmRequest, RequestKind
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions
from batchery_voyage import VoyageOptions, VoyageProvider, create_session
from batchery_voyage.emulator import FINALIZING_S, REQUESTS_PER_S, VALIDATING_S, VoyageEmulator

from ..conftest import closed_origin


class _Texts:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, value: object) -> None:
        if isinstance(value, BaseException):
            self.items.append((where, "".join(traceback.format_exception(value))))
        self.items += [(where, repr(value)), (where, str(value))]

    async def attempt(self, where: str, call: Awaitable[object]) -> None:
        try:
            self.add(where, await call)
        except Exception as exc:
            self.add(where, exc)


def _requests() -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input=f"text {i}")
        for i in range(12)
    ]


async def _exercise(key: str, texts: _Texts) -> None:
    faults = (
        "http_429=0.5,retry_after=0.01,http_500=0.3,line_error=0.3,malformed=0.3,unknown_id=0.3"
    )
    async with VoyageEmulator(EmulatorOptions(faults=faults, seed=2), api_key=key) as emulator:
        options = VoyageOptions(api_key=Secret(key), base_url=emulator.base_url)
        async with create_session(options) as session:
            provider = VoyageProvider(options, session)
            texts.add("repr(options)", options)
            texts.add("repr(provider)", provider)
            state = await provider.submit_batch(_requests(), tag="canary")
            emulator.clock.advance(VALIDATING_S + 12 / REQUESTS_PER_S + FINALIZING_S + 1)
            final = await provider.get_batch(state.batch_id)
            texts.add("get_batch", final)
            texts.add("collect", [item async for item in provider.collect(final)])
            await texts.attempt("get_batch(unknown)", provider.get_batch("batch-nope"))
            await texts.attempt("cancel_batch(unknown)", provider.cancel_batch("batch-nope"))
            for request in _requests():
                texts.add("call", await provider.call(request))
    async with VoyageEmulator(EmulatorOptions(faults="create_lost"), api_key=key) as emulator:
        options = VoyageOptions(api_key=Secret(key), base_url=emulator.base_url)
        async with create_session(options) as session:
            provider = VoyageProvider(options, session)
            await texts.attempt("lost create", provider.submit_batch(_requests(), tag="lost"))
    origin = closed_origin()
    options = VoyageOptions(api_key=Secret(key), base_url=f"{origin}/v1", max_get_attempts=1)
    async with create_session(options) as session:
        provider = VoyageProvider(options, session)
        await texts.attempt("unreachable submit", provider.submit_batch(_requests(), tag="x"))
        await texts.attempt("unreachable get", provider.get_batch("batch-x"))
        texts.add("unreachable call", await provider.call(_requests()[0]))


async def test_the_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    key = f"canary{secrets.token_hex(20)}"
    texts = _Texts()
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        await _exercise(key, texts)
    texts.items += [("log event", repr(event)) for event in events]
    texts.items += [("stdlib log", record.getMessage()) for record in caplog.records]
    forms = {key, key[:16], quote(key, safe="")}
    leaks = sorted({where for where, text in texts.items if any(form in text for form in forms)})
    assert leaks == []
    assert any(where == "lost create" for where, _ in texts.items)
    assert events
