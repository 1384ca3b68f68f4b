"""End to end through core: a booted application runs a mixed Voyage workload (embeddings,
contextual embeddings, reranks) on the emulator and returns one result per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.model import LlmRequest, LlmResult, Mode, RequestKind
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_voyage.emulator import VoyageEmulator

from ..conftest import service_over

KEY = "pa-SERVICEcanary0123456789abcdef"
FAST = Settings(
    default_provider="voyage",
    poll_interval_s=0.02,
    poll_backoff=1.0,
    poll_max_interval_s=0.02,
    reconcile_grace_s=0.02,
)

Open = Callable[..., AbstractAsyncContextManager[tuple[BatchLlmService, VoyageEmulator]]]


@pytest.fixture
def open_service(tmp_path: Path) -> Open:
    @asynccontextmanager
    async def opened(
        faults: str = "", time_scale: float = 2000.0
    ) -> AsyncIterator[tuple[BatchLlmService, VoyageEmulator]]:
        options = EmulatorOptions(time_scale=time_scale, faults=faults, seed=5)
        async with VoyageEmulator(options, api_key=KEY) as emulator:
            settings = msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db"))
            async with service_over(emulator, "voyage", KEY, settings) as service:
                yield service, emulator

    return opened


def workload(count: int = 8) -> list[LlmRequest]:
    requests: list[LlmRequest] = []
    for i in range(count):
        requests.append(
            LlmRequest(
                custom_id=f"emb-{i}",
                kind=RequestKind.EMBEDDING,
                input=f"passage {i}",
                input_type="document",
            )
        )
        requests.append(
            LlmRequest(
                custom_id=f"ctx-{i}",
                kind=RequestKind.CONTEXTUAL_EMBEDDING,
                chunks=(f"part one of {i}", f"part two of {i}"),
            )
        )
        requests.append(
            LlmRequest(
                custom_id=f"rr-{i}",
                kind=RequestKind.RERANK,
                query=f"question {i}",
                documents=(f"answer to question {i}", "unrelated", "also unrelated"),
                top_k=2,
            )
        )
    return requests


def _check_answers(results: list[LlmResult], sent: list[LlmRequest]) -> None:
    assert [r.custom_id for r in results] == [r.custom_id for r in sent]
    assert all(r.ok and r.provider == "voyage" for r in results)
    for result in results:
        if result.custom_id.startswith("emb-"):
            assert result.vector is not None
            assert len(result.vector) == 1024
        elif result.custom_id.startswith("ctx-"):
            assert result.vectors is not None
            assert len(result.vectors) == 2
        else:
            assert result.scores is not None
            assert len(result.scores) == 3
            assert sum(score > 0 for score in result.scores) == 2


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.REALTIME])
async def test_a_mixed_workload_gets_one_result_per_request(open_service: Open, mode: Mode) -> None:
    sent = workload()
    async with open_service() as (service, emulator):
        outcome = await service.run(sent, mode=mode, use_cache=False)
        results = [r async for r in service.get_batch_results(outcome.job.id)]
        batches = emulator.batches()
    assert (outcome.counts.total, outcome.counts.succeeded) == (len(sent), len(sent))
    _check_answers(results, sent)
    assert all(r.mode is mode for r in results)
    if mode is Mode.BATCH:
        assert outcome.batches_submitted == len(batches) == 3
        assert {b.endpoint for b in batches} == {
            "/v1/embeddings",
            "/v1/contextualizedembeddings",
            "/v1/rerank",
        }
        assert all(b.status == "completed" for b in batches)
    else:
        assert batches == []
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in results)


async def test_batch_and_realtime_answers_agree(open_service: Open) -> None:
    sent = workload(3)
    async with open_service() as (service, _):
        batch = await service.run(sent, mode=Mode.BATCH, use_cache=False)
        realtime = await service.run(sent, mode=Mode.REALTIME, use_cache=False)
        by_batch = [r async for r in service.get_batch_results(batch.job.id)]
        by_realtime = [r async for r in service.get_batch_results(realtime.job.id)]
    for one, other in zip(by_batch, by_realtime, strict=True):
        assert (one.vector, one.vectors, one.scores) == (other.vector, other.vectors, other.scores)
        assert one.cost_usd is not None
        assert other.cost_usd is not None
        assert one.cost_usd == pytest.approx(other.cost_usd * 0.67)


async def test_an_expired_batch_is_finished_in_realtime(open_service: Open) -> None:
    sent = workload(4)
    async with open_service("batch_expire", time_scale=43_200.0) as (service, emulator):
        outcome = await service.run(sent, mode=Mode.BATCH, use_cache=False)
        results = [r async for r in service.get_batch_results(outcome.job.id)]
        statuses = {b.status for b in emulator.batches()}
    assert statuses == {"completed"}
    _check_answers(results, sent)
    modes = {r.mode for r in results}
    assert modes == {Mode.BATCH, Mode.REALTIME}
