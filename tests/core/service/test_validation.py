"""What `BatchLlmService.run` refuses before a job exists, and how it names each refusal."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from batchery.model import LlmRequest, Message, Mode, RejectedRequest, RequestKind
from batchery.service import BatchLlmService, InvalidInputError, ServiceOptions
from hypothesis import event, given
from hypothesis import strategies as st


def chat(custom_id: str, content: Any = "Hello", **fields: Any) -> LlmRequest:
    return LlmRequest(custom_id=custom_id, messages=(Message("user", content),), **fields)


async def refused(service: BatchLlmService, items: list[Any]) -> list[str]:
    """The problems `run` names for `items`; asserts that no job was made of them."""
    with pytest.raises(InvalidInputError) as error:
        await service.run(items, mode=Mode.REALTIME)
    assert await service.store.list_jobs() == []
    return error.value.problems


@pytest.mark.parametrize(
    ("item", "rule"),
    [
        (chat("c", 5), "Expected `str`, got `int` - at `$.messages[0].content`"),
        (chat("c", None), "Expected `str`, got `null` - at `$.messages[0].content`"),
        (chat("c", max_tokens="30"), "Expected `int | null`, got `str` - at `$.max_tokens`"),
        (chat("c", "bad \udc80 text"), "holds text that is not valid Unicode (a lone surrogate)"),
        (
            chat("c", response_schema={1, 2}),
            "Expected `object | null`, got `array` - at `$.response_schema`",
        ),
        (
            LlmRequest(custom_id="c", kind="telepathy", messages=(Message("user", "x"),)),  # type: ignore[arg-type]
            "Invalid enum value 'telepathy' - at `$.kind`",
        ),
        (chat("c", temperature=float("nan")), "temperature must be a finite number"),
        (chat("c", metadata={"n": 1}), "Expected `str`, got `int` - at `$.metadata[...]`"),
    ],
)
async def test_a_malformed_request_is_refused_with_its_field_and_the_valid_ones_are_not_lost(
    service: BatchLlmService, item: LlmRequest, rule: str
) -> None:
    items = [chat("ok-1"), item, chat("ok-2"), chat("ok-3")]

    assert await refused(service, items) == [f"request 2 (custom_id 'c'): {rule}"]


async def test_an_item_that_is_not_a_request_is_named_by_its_position(
    service: BatchLlmService,
) -> None:
    items = [chat("a"), {"custom_id": "d", "messages": [{"role": "user", "content": "x"}]}]

    assert await refused(service, items) == [
        "request 2 (custom_id 'd'): is a dict, not an LlmRequest"
    ]


async def test_a_wrongly_typed_id_is_named_without_a_custom_id(
    service: BatchLlmService,
) -> None:
    assert await refused(service, [chat(7)]) == [  # type: ignore[arg-type]
        "request 1: Expected `str`, got `int` - at `$.custom_id`"
    ]


async def test_every_broken_rule_is_named_at_once(service: BatchLlmService) -> None:
    items = [
        chat("a", max_tokens=0),
        LlmRequest(custom_id="r", kind=RequestKind.RERANK, query="q", documents=("d",)),
        chat("a"),
        chat("e", temperature=3.0),
    ]

    assert await refused(service, items) == [
        "request 1 (custom_id 'a'): max_tokens must be at least 1",
        "request 2 (custom_id 'r'): kind 'rerank' is not supported by openai"
        " (it supports chat, embedding)",
        "request 4 (custom_id 'e'): temperature must be between 0 and 2",
    ]


async def test_a_schema_nested_without_end_is_refused(service: BatchLlmService) -> None:
    schema: dict[str, Any] = {}
    for _ in range(100):
        schema = {"type": "object", "properties": {"p": schema}}

    assert await refused(service, [chat("s", response_schema=schema)]) == [
        "request 1 (custom_id 's'): response_schema is nested more than 64 levels deep"
    ]


async def test_a_request_longer_than_the_models_context_window_is_refused(
    service: BatchLlmService,
) -> None:
    long_text = "word " * 120_000
    items = [
        chat("big", long_text, max_tokens=1000),
        chat("fits", long_text, model="gpt-4.1-mini"),
        LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="word " * 8_000),
    ]

    assert await refused(service, items) == [
        "request 1 (custom_id 'big'): the request needs about 151,000 tokens (150,000 of input"
        " and max_tokens 1,000), more than the 128,000-token context window of gpt-4o-mini",
        "request 3 (custom_id 'e'): the request needs about 10,000 tokens (10,000 of input),"
        " more than the 8,191-token context window of text-embedding-3-small",
    ]


async def test_the_runs_own_model_must_be_a_name(service: BatchLlmService) -> None:
    with pytest.raises(InvalidInputError, match="the run's model must be a non-empty string"):
        await service.run([chat("a")], model="")


async def test_unknown_and_overriding_models_are_warnings_naming_each_item(
    service: BatchLlmService,
) -> None:
    items = [
        chat("a", model="gpt-9-turbo"),
        chat("b"),
        LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x", model="gpt-4o-mini"),
        chat("c", model="gpt-4o"),
    ]

    warnings = [str(w) for w in service.validate(items, model="gpt-4o-mini")]

    assert warnings == [
        "request 1 (custom_id 'a'): model 'gpt-9-turbo' is not one openai lists for chat"
        " requests (check the name; a model newer than Batchery's price table runs unpriced)",
        "request 3 (custom_id 'e'): model 'gpt-4o-mini' is not one openai lists for embedding"
        " requests (check the name; a model newer than Batchery's price table runs unpriced)",
        "request 1 (custom_id 'a'): names model 'gpt-9-turbo', which wins over the run's model"
        " 'gpt-4o-mini' (that applies only to requests that name none)",
        "request 4 (custom_id 'c'): names model 'gpt-4o', which wins over the run's model"
        " 'gpt-4o-mini' (that applies only to requests that name none)",
    ]


async def test_known_models_and_dated_snapshots_raise_no_warning(service: BatchLlmService) -> None:
    items = [
        chat("a", model="gpt-4o-mini-2024-07-18"),
        chat("b"),
        LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x"),
    ]

    assert service.validate(items) == []


async def test_a_warning_runs_unless_strict(service: BatchLlmService) -> None:
    outcome = await service.run([chat("a", model="gpt-9-turbo")], mode=Mode.REALTIME)
    assert outcome.counts.total == 1

    strict = BatchLlmService(
        providers={"openai": service.provider()},
        store=service.store,
        bus=service.bus,
        options=ServiceOptions(strict=True),
    )
    with pytest.raises(
        InvalidInputError, match="model 'gpt-9-turbo' is not one openai lists for chat"
    ):
        await strict.run([chat("b", model="gpt-9-turbo")], mode=Mode.REALTIME)


async def test_a_rejected_request_still_ends_as_its_own_explicit_error(
    service: BatchLlmService,
) -> None:
    outcome = await service.run(
        [chat("a"), RejectedRequest("r", "made by the caller")], mode=Mode.REALTIME
    )

    results = {r.custom_id: r async for r in service.get_batch_results(outcome.job.id)}
    assert results["a"].ok
    assert results["r"].error is not None
    assert results["r"].error.message == "made by the caller"


_ODD = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(),
    st.text(max_size=5),
    st.sampled_from(["bad \udc80", "telepathy", {1, 2}, [1], b"bytes", object(), " a", ""]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
"""Values of every wrong type, and of some right ones."""

_FIELDS = [f.name for f in msgspec.structs.fields(LlmRequest)]
_SCHEMAS = st.sampled_from([None, {"type": "object"}, {"type": "telepathy"}, {"enum": [1]}])


@st.composite
def _submission(draw: st.DrawFn) -> list[Any]:
    """One to six items: mostly sound chat and embedding requests, some broken in one field,
    some not requests at all, some repeating an id."""
    items: list[Any] = []
    for n in range(draw(st.integers(1, 6))):
        shape = draw(st.sampled_from(["chat"] * 4 + ["embedding"] * 2 + ["odd", "rejected"]))
        custom_id = draw(st.sampled_from([f"i{n}"] * 5 + ["i0"]))
        if shape == "odd":
            items.append(draw(st.one_of(_ODD, st.fixed_dictionaries({"custom_id": _ODD}))))
            continue
        if shape == "rejected":
            items.append(RejectedRequest(custom_id, "the caller's reason"))
            continue
        if shape == "chat":
            request = chat(
                custom_id,
                draw(st.text(max_size=9)),
                max_tokens=draw(st.none() | st.integers(1, 50)),
                temperature=draw(st.none() | st.floats(0, 2)),
                response_schema=draw(_SCHEMAS),
            )
        else:
            request = LlmRequest(custom_id=custom_id, kind=RequestKind.EMBEDDING, input="text")
        if draw(st.integers(0, 5)) == 0:
            request = msgspec.structs.replace(
                request, **{draw(st.sampled_from(_FIELDS)): draw(_ODD)}
            )
        items.append(request)
    return items


@given(items=_submission())
async def test_run_refuses_or_ends_every_request_exactly_once(
    service: BatchLlmService, items: list[Any]
) -> None:
    jobs_before = len(await service.store.list_jobs(limit=1000))
    refusal: InvalidInputError | None = None
    try:
        outcome = await service.run(items, mode=Mode.REALTIME, use_cache=False)
    except InvalidInputError as error:
        refusal = error
    event("refused" if refusal is not None else "ran")
    if refusal is not None:
        assert refusal.findings
        assert len(await service.store.list_jobs(limit=1000)) == jobs_before
        return

    results = [r async for r in service.get_batch_results(outcome.job.id)]
    assert [r.custom_id for r in results] == [item.custom_id for item in items]
    assert all(r.ok != (r.error is not None) for r in results)
    assert outcome.job.status == "completed"
