"""The frame of one graph-node call that asks for answers: started, asked, finished, reported.

Every node does the same around its own prompts and results: it checks its provider, says it
started, reports each re-ask, and ends with what it produced and what it cost. Done here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from batchery.answers._collect import Accept, Ask, Collected, collect_answers
from batchery.answers._prompts import PromptTemplate
from batchery.answers._settings import NodeSettings
from batchery.events import ItemRetried, NodeFinished, NodeStarted
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService

__all__ = ["ask_as_node", "node_finished"]

T = TypeVar("T")


async def ask_as_node(
    service: BatchLlmService,
    bus: ProgressBus,
    *,
    node: str,
    run_id: str,
    items: int,
    asks: Sequence[Ask],
    schema: Mapping[str, Any],
    accept: Accept[T],
    settings: NodeSettings,
    retry_prompt: PromptTemplate,
) -> Collected[T]:
    """Emit `NodeStarted`, then collect the answers, each re-ask reported as `ItemRetried`.

    An unknown provider fails here, before anything is said to have started.
    """
    service.provider(settings.provider)
    await bus.emit(run_id, NodeStarted, node=node, items=items)

    async def retried(item_id: str, attempt: int, reason: str) -> None:
        await bus.emit(run_id, ItemRetried, custom_id=item_id, attempt=attempt, reason=reason)

    return await collect_answers(
        service,
        asks,
        schema=schema,
        accept=accept,
        run_id=run_id,
        options=settings.ask_options(),
        retry_prompt=retry_prompt,
        on_retry=retried,
    )


async def node_finished(
    bus: ProgressBus,
    *,
    node: str,
    run_id: str,
    items: int,
    produced: int,
    collected: Collected[Any],
) -> None:
    """Emit `NodeFinished` with the counts, the failed ids and what the rounds cost."""
    await bus.emit(
        run_id,
        NodeFinished,
        node=node,
        items=items,
        produced=produced,
        failed_items=[failure.id for failure in collected.failures],
        retried=collected.retried,
        cost_usd=collected.cost_usd,
        realtime_cost_usd=collected.realtime_cost_usd,
        savings_usd=collected.savings_usd,
    )
