"""`OpenAICompatibleProvider`: the OpenAI client, pointed at a server whose models are its own.

OpenAI's client falls back to OpenAI's model names; a vLLM or Together server serves others, so
a request here takes the configured default model or is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

import msgspec
from batchery.model import BatchState, ErrorInfo, LlmRequest, LlmResult, Mode
from batchery.spi import ProviderError, ProviderInfo
from batchery_openai import OpenAIProvider

from batchery_openai_compatible._options import DEFAULT_INFO, PROVIDER

__all__ = ["OpenAICompatibleProvider"]

_NO_MODEL = (
    "no model for this {kind} request: name one in the request or with --model, or set "
    f"default_model under [providers.{PROVIDER}]"
)
_NO_BATCH = (
    f"{PROVIDER} is configured without a batch API (batch = false under "
    f"[providers.{PROVIDER}]); use mode realtime or auto"
)


class OpenAICompatibleProvider(OpenAIProvider):
    """OpenAI's Files, Batches and realtime calls against any server that speaks them."""

    INFO: ClassVar[ProviderInfo] = DEFAULT_INFO

    __slots__ = ()

    def _with_model(self, request: LlmRequest) -> LlmRequest:
        if request.model is not None:
            return request
        model = self.info.default_models.get(request.kind)
        return request if model is None else msgspec.structs.replace(request, model=model)

    def batch_size_of(self, request: LlmRequest) -> int:
        return super().batch_size_of(self._with_model(request))

    def check(self, request: LlmRequest) -> str | None:
        if self._with_model(request).model is None:
            return _NO_MODEL.format(kind=request.kind.value)
        return super().check(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Refused outright on a server configured without the Batch API: nothing is uploaded."""
        if not self.info.batch:
            raise ProviderError(_NO_BATCH, code="invalid_request")
        return await super().submit_batch(self._modelled(requests), tag=tag, resume=resume)

    def _modelled(self, requests: Iterable[LlmRequest]) -> Iterator[LlmRequest]:
        for request in requests:
            request = self._with_model(request)
            if request.model is None:
                message = _NO_MODEL.format(kind=request.kind.value)
                raise ProviderError(message, code="invalid_request")
            yield request

    async def call(self, request: LlmRequest) -> LlmResult:
        request = self._with_model(request)
        if request.model is None:
            error = ErrorInfo(
                code="invalid_request", message=_NO_MODEL.format(kind=request.kind.value)
            )
            return LlmResult.failure(
                request.custom_id, error, provider=self.info.name, mode=Mode.REALTIME
            )
        return await super().call(request)
