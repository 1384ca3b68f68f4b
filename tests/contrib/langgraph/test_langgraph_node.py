"""`LangGraphNode` runs a Batchery node as a plain LangGraph node and streams its events.

The node here is a small one of the test's own, following the node contract: it names its run,
announces it, runs one job whose id starts with the run id, and reports the end.
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

import msgspec
import pytest
from batchery.events import NodeFinished, NodeStarted, RunEvent
from batchery.model import LlmRequest, Message, Mode
from batchery.nodes import GraphNode, NodeInfo
from batchery.service import BatchLlmService
from batchery_langgraph import LangGraphNode, as_langgraph_node
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy, Send

from .conftest import BootFactory

ECHO = NodeInfo(name="echo", title="Echo", reads=("items", "run_id"), writes=("answers",))


class State(TypedDict, total=False):
    items: list[str]
    answers: Annotated[list[str], operator.add]
    run_id: str


class EchoNode:
    """Asks the model about each item and writes the answers.

    Given a `run_id` in its state it names its run after it, and a repeated call resumes that
    run's job (by fingerprint) instead of submitting it again. The result cache is off, so a
    second submission would show as a second batch.
    """

    info = ECHO

    def __init__(self, service: BatchLlmService, mode: Mode, *, fail_first: bool = False) -> None:
        self.service = service
        self.mode = mode
        self.fail_first = fail_first
        self.run_ids: list[str | None] = []

    async def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        given: str | None = state.get("run_id")
        self.run_ids.append(given)
        node_run = f"{given}-echo" if given else f"echo-{uuid.uuid4().hex[:12]}"
        items: list[str] = state["items"]
        await self.service.bus.emit(node_run, NodeStarted, node="echo", items=len(items))
        requests = [
            LlmRequest(custom_id=f"i{n}", messages=(Message("user", f"Echo {item}"),))
            for n, item in enumerate(items)
        ]
        outcome = await self.service.run(
            requests,
            mode=self.mode,
            run_id=f"{node_run}-0",
            fingerprint=f"{node_run}-0",
            use_cache=False,
        )
        if self.fail_first:
            self.fail_first = False
            raise ConnectionError("lost the graph's worker after the job was submitted")
        answers = [r.text or "" async for r in self.service.get_batch_results(outcome.job.id)]
        await self.service.bus.emit(
            node_run,
            NodeFinished,
            node="echo",
            items=len(items),
            produced=len(answers),
            cost_usd=outcome.counts.cost_usd,
        )
        return {"answers": answers}


class PlainEchoNode(EchoNode):
    """The same node, declaring no `run_id` read: it always names its own run."""

    info = NodeInfo(name="echo", title="Echo", reads=("items",), writes=("answers",))


def _graph(node: LangGraphNode, **node_options: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node(node, **node_options)
    builder.add_edge(START, node.__name__)
    builder.add_edge(node.__name__, END)
    return builder.compile()


def _decoded(chunks: list[Any]) -> list[RunEvent]:
    return [msgspec.convert(chunk, RunEvent) for chunk in chunks]


ITEMS = [f"item {n}" for n in range(24)]


async def test_a_node_is_a_plain_langgraph_node_whose_update_is_merged(boot: BootFactory) -> None:
    async with boot() as booted:
        node = as_langgraph_node(EchoNode(booted.service, Mode.REALTIME), booted.bus)
        assert isinstance(node.node, GraphNode)
        assert (node.__name__, node.info) == ("echo", ECHO)

        final = await _graph(node).ainvoke({"items": ITEMS[:3]})

    assert final["items"] == ITEMS[:3]
    assert len(final["answers"]) == 3
    assert all('reply to "Echo item' in answer for answer in final["answers"])


async def test_the_custom_stream_carries_the_nodes_events_in_order(boot: BootFactory) -> None:
    async with boot() as booted:
        echo = EchoNode(booted.service, Mode.BATCH)
        graph = _graph(as_langgraph_node(echo, booted.bus))
        parts = [
            part
            async for part in graph.astream(
                {"items": ITEMS}, stream_mode=["custom", "updates"], version="v2"
            )
        ]

    kinds = [part["type"] for part in parts]
    assert kinds[-1] == "updates"
    assert set(kinds[:-1]) == {"custom"}
    chunks = [part["data"] for part in parts[:-1]]
    assert all(type(chunk) is dict for chunk in chunks)
    events = _decoded(chunks)
    given = echo.run_ids[0]
    assert given is not None
    assert given.startswith("lg-")
    node_run = f"{given}-echo"
    assert isinstance(events[0], NodeStarted)
    assert isinstance(events[-1], NodeFinished)
    assert (events[0].run_id, events[-1].run_id) == (node_run, node_run)
    assert events[-1].produced == len(ITEMS)
    assert all(event.run_id.startswith(node_run) for event in events)
    by_run: dict[str, list[int]] = {}
    for event in events:
        by_run.setdefault(event.run_id, []).append(event.seq)
    assert set(by_run) == {node_run, f"{node_run}-0"}
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_run.values())
    job_kinds = [chunk["type"] for chunk in chunks if chunk["run_id"] == f"{node_run}-0"]
    assert job_kinds[:2] == ["mode_chosen", "run_started"]
    assert "batch_submitted" in job_kinds
    assert job_kinds[-1] == "run_finished"
    assert len(parts[-1]["data"]["echo"]["answers"]) == len(ITEMS)


async def test_a_retried_task_resumes_its_jobs_instead_of_submitting_again(
    boot: BootFactory,
) -> None:
    async with boot() as booted:
        echo = EchoNode(booted.service, Mode.BATCH, fail_first=True)
        graph = _graph(
            as_langgraph_node(echo, booted.bus),
            retry_policy=RetryPolicy(initial_interval=0.01, jitter=False),
        )
        final = await graph.ainvoke({"items": ITEMS})
        batches = booted.emulator.batches()

    assert len(echo.run_ids) == 2
    assert echo.run_ids[0] == echo.run_ids[1]
    assert len(batches) == 1
    assert len(final["answers"]) == len(ITEMS)


async def test_the_states_own_run_id_stays_the_prefix_and_the_state_is_unchanged(
    boot: BootFactory,
) -> None:
    async with boot() as booted:
        echo = EchoNode(booted.service, Mode.REALTIME)
        graph = _graph(as_langgraph_node(echo, booted.bus))
        chunks = [
            chunk
            async for chunk in graph.astream(
                {"items": ITEMS[:2], "run_id": "nightly"}, stream_mode="custom"
            )
        ]
        final = await graph.ainvoke({"items": ITEMS[:2], "run_id": "nightly"})

    first, second = echo.run_ids
    assert first is not None
    assert first.startswith("nightly-lg-")
    assert second != first
    assert final["run_id"] == "nightly"
    assert all(chunk["run_id"].startswith(first) for chunk in chunks)


async def test_each_parallel_call_streams_only_its_own_run(boot: BootFactory) -> None:
    async with boot() as booted:
        plain = PlainEchoNode(booted.service, Mode.REALTIME)
        node = as_langgraph_node(plain, booted.bus)
        builder = StateGraph(State)
        builder.add_node(node)
        builder.add_conditional_edges(
            START, lambda state: [Send("echo", {"items": [item]}) for item in state["items"]]
        )
        builder.add_edge("echo", END)
        chunks = [
            chunk
            async for chunk in builder.compile().astream({"items": ITEMS[:4]}, stream_mode="custom")
        ]

    events = _decoded(chunks)
    assert plain.run_ids == [None] * 4
    keys = [(event.run_id, event.seq) for event in events]
    assert len(keys) == len(set(keys))
    started = {e.run_id for e in events if isinstance(e, NodeStarted)}
    finished = {e.run_id for e in events if isinstance(e, NodeFinished)}
    assert len(started) == 4
    assert started == finished
    assert {e.run_id for e in events} == started | {f"{run}-0" for run in started}


async def test_sync_invoke_is_refused_because_the_node_lives_on_an_event_loop(
    boot: BootFactory,
) -> None:
    async with boot() as booted:
        graph = _graph(as_langgraph_node(EchoNode(booted.service, Mode.REALTIME), booted.bus))
        with pytest.raises(TypeError, match="No synchronous function provided"):
            graph.invoke({"items": ITEMS[:1]})


@dataclasses.dataclass
class DataclassState:
    items: list[str]
    answers: list[str] = dataclasses.field(default_factory=list)


async def test_a_state_that_is_not_a_mapping_is_refused_naming_the_node(
    boot: BootFactory,
) -> None:
    async with boot() as booted:
        echo = EchoNode(booted.service, Mode.REALTIME)
        builder = StateGraph(DataclassState)
        builder.add_node(as_langgraph_node(echo, booted.bus))
        builder.add_edge(START, "echo")
        builder.add_edge("echo", END)
        with pytest.raises(TypeError, match="node 'echo' needs a mapping state"):
            await builder.compile().ainvoke(DataclassState(items=ITEMS[:1]))

    assert echo.run_ids == []
