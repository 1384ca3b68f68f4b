"""Reading and filling the result cache around a run: answers keyed by request, not by id.

An answer is kept under its endpoint (provider, base URL, emulator or not) as well as its
model and body, so an emulator's replies, or another server's, never answer for this one.
Each request's key is worked out once, when the run is planned, and kept in the job's ledger:
the finished job's answers are then cached by the store itself, without reading them back.
"""

from __future__ import annotations

from collections.abc import Sequence

from batchery.model import Endpoint, Job, LlmRequest, LlmResult, Mode
from batchery.service.options import ServiceOptions
from batchery.service.planning import cache_key
from batchery.store import JobStore

__all__ = ["answer_keys", "cached_answers", "endpoint_key", "remember_answers"]


def endpoint_key(endpoint: Endpoint, request: LlmRequest) -> str:
    """The cache key of `request` (taken with its model) at `endpoint`."""
    return cache_key(endpoint.key, request)


def answer_keys(
    endpoint: Endpoint, requests: Sequence[LlmRequest], rules: Sequence[str | None]
) -> list[str | None]:
    """The cache key of each request as it will run; None for those a rule refused."""
    return [
        endpoint_key(endpoint, request) if rule is None else None
        for request, rule in zip(requests, rules, strict=True)
    ]


async def cached_answers(
    store: JobStore,
    requests: Sequence[LlmRequest],
    keys: Sequence[str | None],
    options: ServiceOptions,
) -> dict[str, LlmResult]:
    """Earlier answers to any of `requests` (whose cache keys are `keys`), by custom_id.

    None at all when the service runs with `use_cache` off: the one switch every caller obeys.
    """
    if not options.use_cache:
        return {}
    found = await store.cache.get_many(list({key for key in keys if key is not None}))
    if not found:
        return {}
    return {
        request.custom_id: found[key]
        for request, key in zip(requests, keys, strict=True)
        if key is not None and key in found
    }


async def remember_answers(store: JobStore, job: Job, *, chunk_id: str | None = None) -> None:
    """Put the job's fresh answers in the cache under its endpoint: a batch chunk's once it is
    collected (while other batches still run), the rest when the job ends. A job stored
    without its endpoint teaches the cache nothing."""
    if job.endpoint is None:
        return
    if chunk_id is not None:
        await store.cache.remember_job(job.id, endpoint=job.endpoint, chunk_id=chunk_id)
    else:
        await store.cache.remember_job(job.id, endpoint=job.endpoint, mode=Mode.REALTIME)
