"""The kit catches real bugs: OpenAI's provider with one defect each must fail the right check.

Each mutant swaps one method of `OpenAIProvider` for a plausible mistake; the kit runs only
the check that should notice, against OpenAI's emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
import structlog
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult
from batchery.modules import Module
from batchery.provider_kit import provider_container
from batchery.spi import CollectedLine, MalformedLine, ProviderError
from batchery.testing import KitConfig, validate
from batchery_openai import OpenAIModule, OpenAIProvider, options_from


def _module(provider_class: type[OpenAIProvider]) -> type[Module]:
    Container = provider_container(options_from, provider_class, user_agent="batchery-mutant")
    return type("MutantModule", (OpenAIModule,), {"Container": Container, "name": "mutant"})


class HalfSize(OpenAIProvider):
    def batch_size_of(self, request: LlmRequest) -> int:
        return super().batch_size_of(request) // 2


class LeakyCall(OpenAIProvider):
    async def call(self, request: LlmRequest) -> LlmResult:
        result = await super().call(request)
        if result.ok or result.error is None:
            return result
        key = self._options.api_key.reveal() if self._options.api_key else ""
        error = msgspec.structs.replace(result.error, message=f"{result.error.message} (key {key})")
        return msgspec.structs.replace(result, error=error)


class LogsKey(OpenAIProvider):
    async def get_batch(self, batch_id: str) -> BatchState:
        key = self._options.api_key.reveal() if self._options.api_key else ""
        structlog.get_logger().debug("polling", credentials=key)
        return await super().get_batch(batch_id)


class AbortsOnMalformed(OpenAIProvider):
    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        async for line in super().collect(batch):
            if isinstance(line, MalformedLine):
                raise ProviderError(f"unreadable line {line.line}", code="bad_response")
            yield line


class NeverFinds(OpenAIProvider):
    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        return None


class PlainNotFound(OpenAIProvider):
    async def get_batch(self, batch_id: str) -> BatchState:
        try:
            return await super().get_batch(batch_id)
        except ProviderError as exc:
            raise ProviderError(exc.message, code=exc.code, status=exc.status) from None


class StrictCancel(OpenAIProvider):
    async def cancel_batch(self, batch_id: str) -> BatchState:
        state = await self.get_batch(batch_id)
        if state.status not in (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS):
            raise ProviderError("cannot cancel", code="invalid_request", status=400)
        return await super().cancel_batch(batch_id)


class ForgetsRetryAfter(OpenAIProvider):
    async def call(self, request: LlmRequest) -> LlmResult:
        result = await super().call(request)
        if result.error is None:
            return result
        error = msgspec.structs.replace(result.error, retry_after_s=None)
        return msgspec.structs.replace(result, error=error)


class ExpiredIsFailed(OpenAIProvider):
    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        if batch.status is BatchStatus.EXPIRED:
            return
        async for line in super().collect(batch):
            yield line


@pytest.mark.parametrize(
    ("provider_class", "check", "said"),
    [
        (HalfSize, "chunk_sizes", "batch_size_of"),
        (LeakyCall, "secrets_never_leak", "call"),
        (LogsKey, "secrets_never_leak", "log event"),
        (AbortsOnMalformed, "collect_malformed", "collect on a completed batch raised"),
        (NeverFinds, "reconcile_lost_create", "find_batch found no batch"),
        (PlainNotFound, "batch_not_found", "ProviderError"),
        (StrictCancel, "cancel_idempotent", "cannot cancel"),
        (ForgetsRetryAfter, "realtime_rate_limited", "retry_after_s=None"),
        (ExpiredIsFailed, "batch_expired_partial", "collect delivered 0 answers"),
    ],
)
async def test_the_kit_fails_a_provider_with_the_bug(
    provider_class: type[OpenAIProvider], check: str, said: str
) -> None:
    report = await validate(KitConfig(module=_module(provider_class)), only=[check])
    (result,) = report.results
    assert result.outcome == "failed", result
    assert said in result.detail
    assert report.failed == (result,)
