"""Reading and filling the result cache around a run: answers keyed by request, not by id.

An answer is kept under its endpoint (provider, base URL, emulator or not) as well as its
model and body, so an emulator's replies, or another server's, never answer for this one.
"""

from __future__ import annotations

from collections.abc import Iterable

from batchery.model import Endpoint, Job, LlmRequest, LlmResult, RejectedRequest
from batchery.service.options import ServiceOptions
from batchery.service.planning import cache_key, with_model
from batchery.spi import Provider
from batchery.store import JobStore

__all__ = ["cached_answers", "endpoint_key", "remember_answers"]

_BATCH = 1000


def endpoint_key(endpoint: Endpoint, request: LlmRequest) -> str:
    """The cache key of `request` (taken with its model) at `endpoint`."""
    return cache_key(endpoint.key, request)


async def cached_answers(
    store: JobStore,
    provider: Provider,
    endpoint: Endpoint,
    items: Iterable[LlmRequest | RejectedRequest],
    model: str | None,
    options: ServiceOptions,
) -> dict[str, LlmResult]:
    """Earlier answers from `endpoint` to any of `items`, under the planner's cache keys.

    None at all when the service runs with `use_cache` off: the one switch every caller obeys.
    """
    if not options.use_cache:
        return {}
    planner_keys: dict[str, str] = {}
    for item in items:
        if isinstance(item, LlmRequest):
            request = with_model(item, provider, model, options)
            planner_keys[endpoint_key(endpoint, request)] = cache_key(provider.info.name, request)
    found = await store.cache.get_many(list(planner_keys))
    return {planner_keys[key]: result for key, result in found.items()}


async def remember_answers(store: JobStore, job: Job) -> None:
    """Put the job's fresh answers in the cache under its endpoint, streaming requests and
    results in input order. A job stored without its endpoint teaches the cache nothing."""
    endpoint = job.endpoint
    if endpoint is None:
        return
    requests = aiter(store.requests(job.id))
    entries: list[tuple[str, LlmResult]] = []
    async for result in store.results(job.id):
        request = await anext(requests)
        while request.custom_id != result.custom_id:
            request = await anext(requests)
        if result.ok and not result.cached:
            entries.append((endpoint_key(endpoint, request), result))
        if len(entries) >= _BATCH:
            await store.cache.put_many(entries, endpoint=endpoint)
            entries.clear()
    if entries:
        await store.cache.put_many(entries, endpoint=endpoint)
