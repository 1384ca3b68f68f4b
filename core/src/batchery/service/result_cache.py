"""Reading and filling the result cache around a run: answers keyed by request, not by id."""

from __future__ import annotations

from collections.abc import Iterable

from batchery.model import Job, LlmRequest, LlmResult, RejectedRequest
from batchery.service.options import ServiceOptions
from batchery.service.planning import cache_key, with_model
from batchery.spi import Provider
from batchery.store import JobStore

__all__ = ["cached_answers", "remember_answers"]

_BATCH = 1000


async def cached_answers(
    store: JobStore,
    provider: Provider,
    items: Iterable[LlmRequest | RejectedRequest],
    model: str | None,
    options: ServiceOptions,
) -> dict[str, LlmResult]:
    """Earlier answers to any of `items`, by cache key, each request taken with its model.

    None at all when the service runs with `use_cache` off: the one switch every caller obeys.
    """
    if not options.use_cache:
        return {}
    keys = [
        cache_key(provider.info.name, with_model(item, provider, model, options))
        for item in items
        if isinstance(item, LlmRequest)
    ]
    return await store.cache.get_many(keys)


async def remember_answers(store: JobStore, job: Job) -> None:
    """Put the job's fresh answers in the cache, streaming requests and results in input order."""
    requests = aiter(store.requests(job.id))
    entries: list[tuple[str, LlmResult]] = []
    async for result in store.results(job.id):
        request = await anext(requests)
        while request.custom_id != result.custom_id:
            request = await anext(requests)
        if result.ok and not result.cached:
            entries.append((cache_key(job.provider, request), result))
        if len(entries) >= _BATCH:
            await store.cache.put_many(entries)
            entries.clear()
    if entries:
        await store.cache.put_many(entries)
