"""The OpenAI-compatible provider booted in a Batchery application, against real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from batchery.app import build_application
from batchery.model import LlmRequest, LlmResult, Message, Mode, RequestKind
from batchery.modules import Application, ModuleInitError
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions, Provider, ProviderError
from batchery_openai.emulator import OpenAIEmulator
from batchery_openai_compatible import OpenAICompatibleProvider

NAME = "openai-compatible"
CANARY = "acme-live-CANARYkey0123456789abcdef"
KEY_ENV = "ACME_LLM_KEY"
MODELS = "chat=served-chat,embedding=served-embed"


def chats(count: int, prefix: str = "q") -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"{prefix}-{i}", messages=(Message("user", f"question {i}"),))
        for i in range(count)
    ]


def embeddings(count: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input=f"text {i}")
        for i in range(count)
    ]


async def results_of(service: BatchLlmService, job_id: str) -> list[LlmResult]:
    return [r async for r in service.get_batch_results(job_id)]


@asynccontextmanager
async def booted(tmp_path: Path, **options: object) -> AsyncIterator[Application]:
    settings = Settings(
        store=str(tmp_path / "jobs.db"),
        poll_interval_s=0.05,
        poll_backoff=1.0,
        poll_max_interval_s=0.05,
        reconcile_grace_s=0.05,
    )
    app = await build_application(settings, only=[NAME], provider_options={NAME: options})
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    options = EmulatorOptions(time_scale=2000.0, seed=3)
    async with OpenAIEmulator(options, api_key=CANARY) as emu:
        yield emu


async def test_a_batch_run_end_to_end_with_the_key_from_key_env(
    emulator: OpenAIEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY)
    with structlog.testing.capture_logs() as logs:
        async with booted(
            tmp_path,
            base_url=emulator.base_url,
            key_env=KEY_ENV,
            kinds="chat,embedding",
            max_requests_per_batch="30",
            batch_discount="0.5",
            default_model=MODELS,
        ) as app:
            provider = await app.get(f"{NAME}.provider", OpenAICompatibleProvider)
            service = await app.get("batchery.service", BatchLlmService)
            outcome = await service.run(chats(100), provider=NAME, mode=Mode.BATCH)
            results = await results_of(service, outcome.job.id)
            vectors = await service.run(embeddings(5), provider=NAME, mode=Mode.REALTIME)
            embedded = await results_of(service, vectors.job.id)
            texts = [repr(provider), repr(app)]
    assert isinstance(provider, Provider)
    assert provider.info.limits.max_requests_per_batch == 30
    assert provider.info.key_env == KEY_ENV
    assert (outcome.job.provider, outcome.job.model) == (NAME, "served-chat")
    assert (outcome.counts.succeeded, outcome.batches_submitted) == (100, 4)
    assert len(emulator.batches()) == 4
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(100)]
    assert {(r.ok, r.provider, r.mode, r.model) for r in results} == {
        (True, NAME, Mode.BATCH, "served-chat")
    }
    assert all(r.ok and r.provider == NAME and r.vector for r in embedded)
    assert logs
    for text in [*texts, *map(repr, logs), *map(repr, results)]:
        assert CANARY not in text
        assert CANARY[:16] not in text


async def test_a_server_without_batch_runs_realtime_in_auto(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    async with booted(
        tmp_path, base_url=emulator.base_url, api_key=CANARY, batch="false", default_model="m"
    ) as app:
        service = await app.get("batchery.service", BatchLlmService)
        outcome = await service.run(chats(60), provider=NAME, mode=Mode.AUTO)
        results = await results_of(service, outcome.job.id)
    assert outcome.job.mode is Mode.REALTIME
    assert outcome.job.reason is not None
    assert "no batch API" in outcome.job.reason
    assert outcome.counts.succeeded == 60
    assert all(r.ok and r.mode is Mode.REALTIME for r in results)
    assert (emulator.files(), emulator.batches()) == ([], [])


async def test_the_service_refuses_batch_mode_on_a_server_without_batch(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    async with booted(
        tmp_path, base_url=emulator.base_url, api_key=CANARY, batch="false", default_model="m"
    ) as app:
        service = await app.get("batchery.service", BatchLlmService)
        with pytest.raises(ValueError, match="openai-compatible has no batch API"):
            await service.run(chats(30), provider=NAME, mode=Mode.BATCH)
    assert (emulator.files(), emulator.batches()) == ([], [])


async def test_the_provider_itself_never_uploads_to_a_server_without_batch(
    emulator: OpenAIEmulator, tmp_path: Path
) -> None:
    async with booted(
        tmp_path, base_url=emulator.base_url, api_key=CANARY, batch="false", default_model="m"
    ) as app:
        provider = await app.get(f"{NAME}.provider", OpenAICompatibleProvider)
        with pytest.raises(ProviderError, match=r"without a batch API \(batch = false") as caught:
            await provider.submit_batch(chats(3), tag="refused")
    assert (caught.value.code, caught.value.retryable) == ("invalid_request", False)
    assert (emulator.files(), emulator.batches()) == ([], [])


async def test_a_wrong_key_fails_without_showing_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY)
    async with OpenAIEmulator(EmulatorOptions(time_scale=2000.0), api_key="another-key") as emu:
        with structlog.testing.capture_logs() as logs:
            async with booted(
                tmp_path, base_url=emu.base_url, key_env=KEY_ENV, default_model="m"
            ) as app:
                provider = await app.get(f"{NAME}.provider", OpenAICompatibleProvider)
                result = await provider.call(chats(1)[0])
                with pytest.raises(ProviderError) as caught:
                    await provider.submit_batch(chats(2), tag="wrong-key")
    assert result.error is not None
    assert (result.ok, result.provider, result.error.code) == (False, NAME, "auth")
    assert (caught.value.code, caught.value.status) == ("auth", 401)
    for text in [repr(result), str(caught.value), repr(caught.value), *map(repr, logs)]:
        assert CANARY not in text
        assert CANARY[:16] not in text


async def test_a_missing_base_url_stops_the_boot_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", CANARY)
    with pytest.raises(ModuleInitError) as caught:
        async with booted(tmp_path, kinds="chat"):
            pass
    message = str(caught.value)
    assert "base_url option is not set" in message
    assert "[providers.openai-compatible]" in message
    assert CANARY not in message


class Seen(msgspec.Struct):
    headers: list[Mapping[str, str]] = msgspec.field(default_factory=list)
    uploads: int = 0
    creates: list[dict[str, Any]] = msgspec.field(default_factory=list)


@asynccontextmanager
async def scripted() -> AsyncIterator[tuple[str, Seen]]:
    """A server that records what reaches it and answers chat and batch creates minimally."""
    seen = Seen()
    routes = web.RouteTableDef()

    @routes.post("/v1/chat/completions")
    async def chat(request: web.Request) -> web.Response:
        seen.headers.append(dict(request.headers))
        body = await request.json()
        message = {"role": "assistant", "content": "ok"}
        return web.json_response({"model": body["model"], "choices": [{"message": message}]})

    @routes.post("/v1/files")
    async def upload(request: web.Request) -> web.Response:
        await request.read()
        seen.uploads += 1
        return web.json_response({"id": "file-1", "object": "file"})

    @routes.post("/v1/batches")
    async def create(request: web.Request) -> web.Response:
        seen.creates.append(await request.json())
        return web.json_response({"id": "batch-1", "status": "validating", "created_at": 1})

    app = web.Application()
    app.add_routes(routes)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/v1")), seen
    finally:
        await server.close()


async def test_no_openai_variable_reaches_a_compatible_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-CANARY0123456789")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-canary")
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    async with scripted() as (url, seen):
        async with booted(tmp_path, base_url=url, default_model="m") as keyless:
            provider = await keyless.get(f"{NAME}.provider", OpenAICompatibleProvider)
            answered = await provider.call(chats(1)[0])
        monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "vllm-key")
        async with booted(
            tmp_path, base_url=url, default_model="m", completion_window="7d"
        ) as keyed:
            provider = await keyed.get(f"{NAME}.provider", OpenAICompatibleProvider)
            await provider.call(chats(1)[0])
            state = await provider.submit_batch(chats(3), tag="window")
    assert (answered.ok, answered.text, answered.model) == (True, "ok", "m")
    first, second = seen.headers
    assert "Authorization" not in first
    assert not any(name.lower().startswith("openai-") for name in first)
    assert second["Authorization"] == "Bearer vllm-key"
    assert state.batch_id == "batch-1"
    assert seen.creates[0]["completion_window"] == "7d"


async def test_without_a_model_nothing_is_sent(tmp_path: Path) -> None:
    async with scripted() as (url, seen), booted(tmp_path, base_url=url, api_key="k") as app:
        provider = await app.get(f"{NAME}.provider", OpenAICompatibleProvider)
        with pytest.raises(ProviderError, match="no model for this chat request") as caught:
            await provider.submit_batch(chats(2), tag="no-model")
        result = await provider.call(chats(1)[0])
    assert caught.value.code == "invalid_request"
    assert result.error is not None
    assert result.error.code == "invalid_request"
    assert (seen.uploads, seen.creates, seen.headers) == (0, [], [])
