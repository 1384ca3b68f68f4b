"""The official `voyageai` SDK works against the emulator unchanged, given only `base_url`.

The installed SDK (0.5) has no Files or Batches calls, so only `embed`, `contextualized_embed`
and `rerank` are driven through it, by the async client and by the sync client (in a worker
thread of its own, so its blocking `requests` calls do not stall the emulator's loop). Its
answers must equal what Batchery's own client reads from the same emulator.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import aiohttp
import pytest
import requests
import voyageai
import voyageai.error
from batchery.model import LlmRequest, RequestKind
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions
from batchery_voyage import VoyageOptions, VoyageProvider, create_session
from batchery_voyage.emulator import VoyageEmulator
from voyageai.client import Client
from voyageai.client_async import AsyncClient

KEY = "pa-SDKtestkey0123456789"
T = TypeVar("T")


@pytest.fixture
async def emulator() -> AsyncIterator[VoyageEmulator]:
    async with VoyageEmulator(EmulatorOptions(time_scale=100), api_key=KEY) as emu:
        yield emu


@pytest.fixture
async def sdk(emulator: VoyageEmulator) -> AsyncClient:
    return AsyncClient(api_key=KEY, base_url=emulator.base_url)


@pytest.fixture
async def provider(emulator: VoyageEmulator) -> AsyncIterator[VoyageProvider]:
    options = VoyageOptions(api_key=Secret(KEY), base_url=emulator.base_url)
    async with create_session(options) as session:
        yield VoyageProvider(options, session)


@pytest.fixture
def in_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., asyncio.Future[T]]]:
    """Run a blocking SDK call in one dedicated thread, with a requests session we close."""
    session = requests.Session()
    monkeypatch.setattr(voyageai, "requestssession", session)
    pool = ThreadPoolExecutor(max_workers=1)

    def run(call: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(pool, call)

    yield run
    pool.shutdown(wait=True)
    session.close()


async def test_embed_matches_the_batchery_client(
    sdk: AsyncClient, provider: VoyageProvider
) -> None:
    texts = ["first text", "second text"]
    answer = await sdk.embed(texts, model="voyage-3.5", input_type="document")
    assert len(answer.embeddings) == 2
    assert answer.total_tokens > 0
    for index, text in enumerate(texts):
        ours = await provider.call(
            LlmRequest(
                custom_id=str(index),
                kind=RequestKind.EMBEDDING,
                input=text,
                model="voyage-3.5",
                input_type="document",
            )
        )
        assert tuple(answer.embeddings[index]) == ours.vector


async def test_embed_in_other_dtypes_and_dimensions(sdk: AsyncClient) -> None:
    small = await sdk.embed(["x"], model="voyage-4", output_dimension=256)
    assert len(small.embeddings[0]) == 256
    quantized = await sdk.embed(["x"], model="voyage-4", output_dtype="int8")
    assert len(quantized.embeddings[0]) == 1024
    assert all(isinstance(v, int) for v in quantized.embeddings[0])
    packed = await sdk.embed(["x"], model="voyage-4", output_dtype="ubinary")
    assert len(packed.embeddings[0]) == 128


async def test_contextualized_embed_matches_the_batchery_client(
    sdk: AsyncClient, provider: VoyageProvider
) -> None:
    chunks = ["the opening", "the middle", "the end"]
    answer = await sdk.contextualized_embed(
        inputs=[chunks, ["another document"]], model="voyage-context-3", input_type="document"
    )
    assert [len(result.embeddings) for result in answer.results] == [3, 1]
    ours = await provider.call(
        LlmRequest(
            custom_id="c",
            kind=RequestKind.CONTEXTUAL_EMBEDDING,
            chunks=tuple(chunks),
            model="voyage-context-3",
            input_type="document",
        )
    )
    assert ours.vectors == tuple(tuple(vector) for vector in answer.results[0].embeddings)


async def test_rerank_matches_the_batchery_client(
    sdk: AsyncClient, provider: VoyageProvider
) -> None:
    documents = ["Paris is in France", "Berlin is in Germany", "France has Paris"]
    answer = await sdk.rerank("where is Paris", documents, model="rerank-2.5", top_k=2)
    assert len(answer.results) == 2
    assert answer.results[0].relevance_score >= answer.results[1].relevance_score
    assert answer.total_tokens > 0
    ours = await provider.call(
        LlmRequest(
            custom_id="r",
            kind=RequestKind.RERANK,
            query="where is Paris",
            documents=tuple(documents),
            model="rerank-2.5",
            top_k=2,
        )
    )
    assert ours.scores is not None
    for result in answer.results:
        assert result.document == documents[result.index]
        assert ours.scores[result.index] == result.relevance_score


async def test_the_sync_client_works_too(
    emulator: VoyageEmulator, in_thread: Callable[..., asyncio.Future[object]]
) -> None:
    client = Client(api_key=KEY, base_url=emulator.base_url)
    embedded = await in_thread(lambda: client.embed(["x"], model="voyage-4-lite"))
    assert len(embedded.embeddings[0]) == 1024  # type: ignore[attr-defined]
    ranked = await in_thread(lambda: client.rerank("q", ["a", "b"], model="rerank-2.5-lite"))
    assert sorted(r.index for r in ranked.results) == [0, 1]  # type: ignore[attr-defined]


async def test_sdk_errors_follow_voyage_statuses(emulator: VoyageEmulator) -> None:
    wrong = AsyncClient(api_key="pa-wrong", base_url=emulator.base_url)
    with pytest.raises(voyageai.error.AuthenticationError):
        await wrong.embed(["x"], model="voyage-4")
    right = AsyncClient(api_key=KEY, base_url=emulator.base_url)
    with pytest.raises(voyageai.error.InvalidRequestError, match="not supported"):
        await right.embed(["x"], model="no-such-model")


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ("http_429,retry_after=0.01", voyageai.error.RateLimitError),
        ("http_500", voyageai.error.ServerError),
        ("http_503", voyageai.error.ServiceUnavailableError),
    ],
)
async def test_sdk_sees_injected_faults_as_its_own_errors(
    faults: str, error: type[Exception]
) -> None:
    async with VoyageEmulator(EmulatorOptions(faults=faults)) as emulator:
        client = AsyncClient(api_key=KEY, base_url=emulator.base_url)
        with pytest.raises(error):
            await client.rerank("q", ["a"], model="rerank-2.5")


async def test_the_sdk_decodes_the_base64_the_emulator_sends(emulator: VoyageEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        url = emulator.base_url + "/embeddings"
        body = {"input": ["x"], "model": "voyage-4", "encoding_format": "base64"}
        async with session.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as r:
            raw = (await r.json())["data"][0]["embedding"]
    client = AsyncClient(api_key=KEY, base_url=emulator.base_url)
    answer = await client.embed(["x"], model="voyage-4")
    packed = base64.b64decode(raw)
    assert answer.embeddings[0] == list(struct.unpack(f"<{len(packed) // 4}f", packed))
