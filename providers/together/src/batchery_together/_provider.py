"""`TogetherProvider`: OpenAI's client with Together's Batch API twists.

Together takes OpenAI's chat bodies and batch lines, but its Files and Batches API differs:
uploads go to `/files/upload` with purpose `batch-api` and a `file_name` field; a create
answers `{"job": {...}}`; statuses are upper case and the batch object has no `metadata`, so a
lost create is found by its input file, whose name the tag decides. The batch list is a bare
JSON array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import msgspec
from batchery.model import BatchState, BatchStatus, RequestKind
from batchery.spi import ProviderInfo, ProviderLimits
from batchery_openai import OpenAIProvider
from batchery_openai_batch import BatchPaths, BatchView, parse_time, upload_name

__all__ = ["TogetherProvider"]

PROVIDER = "together"

_STATUSES = {
    "validating": BatchStatus.VALIDATING,
    "in_progress": BatchStatus.IN_PROGRESS,
    "completed": BatchStatus.COMPLETED,
    "failed": BatchStatus.FAILED,
    "expired": BatchStatus.EXPIRED,
    "cancelling": BatchStatus.CANCELLING,
    "cancelled": BatchStatus.CANCELLED,
}
"""Together's documented six, read in any case, and `CANCELLING`, which it does not document
but a cancel takes time to settle."""


class _Created(msgspec.Struct, frozen=True):
    job: BatchView


class TogetherProvider(OpenAIProvider):
    """Together's Batch API and realtime chat completions, through one aiohttp session."""

    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name=PROVIDER,
        title="Together AI",
        kinds=frozenset({RequestKind.CHAT}),
        limits=ProviderLimits(max_requests_per_batch=50_000, max_bytes_per_batch=100_000_000),
        batch_discount=0.5,
        default_models={RequestKind.CHAT: "meta-llama/Llama-3.3-70B-Instruct-Turbo"},
        key_env="TOGETHER_API_KEY",
        base_url_env="TOGETHER_BASE_URL",
    )
    batch_paths: ClassVar[BatchPaths] = BatchPaths(
        upload="/files/upload", purpose="batch-api", name_field="file_name"
    )

    statuses: ClassVar[Mapping[str, BatchStatus]] = _STATUSES

    __slots__ = ()

    def _create_body(self, file_id: str, kind: RequestKind, tag: str) -> dict[str, object]:
        body = super()._create_body(file_id, kind, tag)
        del body["metadata"]
        return body

    def _created(self, body: bytes) -> BatchView:
        return self._api.http.decode(body, _Created, "batch").job

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        """The batch whose input file carries the tag's name, created since `created_after`."""
        file_id = await self._api.find_file(upload_name(tag))
        if file_id is None:
            return None
        body = await self._api.http.get("/batches")
        for view in self._api.http.decode(body, list[BatchView], "batch list"):
            created = parse_time(view.created_at) or 0.0
            if view.input_file_id == file_id and created >= created_after:
                return msgspec.structs.replace(self._state(view), tag=tag)
        return None
