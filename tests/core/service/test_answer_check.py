"""A request that asks for a JSON schema gets that JSON, a named repair, or `invalid_json`."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from batchery.events import FallbackStarted, ItemRetried, decode_event
from batchery.model import ErrorInfo, LlmRequest, LlmResult, Message, Mode, RequestKind
from batchery.service import BatchLlmService
from batchery.service.answer_check import checked_answer

from .conftest import ServiceFactory

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["label", "score"],
}
FAULTS = "truncated_json=0.15,fenced_json=0.15,prose_json=0.15"


def ask(custom_id: str, schema: dict[str, object] | None = SCHEMA) -> LlmRequest:
    return LlmRequest(
        custom_id=custom_id,
        messages=(Message("user", f"Label {custom_id}"),),
        response_schema=schema,
    )


def answer(text: str | None) -> LlmResult:
    return LlmResult(custom_id="a", ok=True, provider="openai", mode=Mode.REALTIME, text=text)


def test_a_clean_answer_is_marked_valid_and_left_as_it_came() -> None:
    text = '{"label": "x", "score": 3}'

    checked = checked_answer(ask("a"), answer(text))

    assert (checked.ok, checked.json_valid, checked.text, checked.repairs) == (True, True, text, ())


@pytest.mark.parametrize(
    ("text", "repairs"),
    [
        ('```json\n{"label": "x", "score": 3}\n```', ("code_fence",)),
        ('Here it is: {"label": "x", "score": 3}. Done.', ("surrounding_prose",)),
        ('{"label": "x", "score": 3, "note": "cut sh', ("truncated_tail",)),
    ],
)
def test_a_fenced_wrapped_or_cut_answer_is_rescued_and_the_repair_named(
    text: str, repairs: tuple[str, ...]
) -> None:
    checked = checked_answer(ask("a"), answer(text))

    assert checked.ok
    assert checked.json_valid is True
    assert checked.repairs == repairs
    assert json.loads(checked.text or "") == {"label": "x", "score": 3}


@pytest.mark.parametrize(
    "text", ['{"label": "x", "sco', '{"label": 5, "score": 3}', "no JSON here", "", None]
)
def test_an_answer_that_is_not_the_schemas_json_is_a_retryable_invalid_json_error(
    text: str | None,
) -> None:
    checked = checked_answer(ask("a"), answer(text))

    assert not checked.ok
    assert checked.json_valid is False
    assert checked.error is not None
    assert (checked.error.code, checked.error.retryable) == ("invalid_json", True)
    assert checked.error.message.startswith(("the answer", "no JSON value"))
    assert checked.text == text


def test_a_schema_beyond_the_checked_subset_still_needs_json() -> None:
    schema: dict[str, object] = {"anyOf": [{"type": "object"}, {"type": "array"}]}

    assert checked_answer(ask("a", schema), answer("[1, 2]")).json_valid is True
    assert checked_answer(ask("a", schema), answer("not json")).error is not None


def test_requests_without_a_schema_and_errors_pass_unchanged() -> None:
    failed = LlmResult.failure(
        "a", ErrorInfo(code="server_error", message="x"), provider="openai", mode=Mode.REALTIME
    )
    embedding = LlmRequest(custom_id="a", kind=RequestKind.EMBEDDING, input="x")

    assert checked_answer(ask("a", None), answer("prose")) == answer("prose")
    assert checked_answer(ask("a"), failed) == failed
    assert checked_answer(embedding, answer("prose")) == answer("prose")


async def _events(service: BatchLlmService, job_id: str) -> list[object]:
    return [decode_event(body) for _, body in await service.store.events(job_id)]


@pytest.mark.parametrize("mode", [Mode.REALTIME, Mode.BATCH])
async def test_content_faults_never_pass_as_success_and_are_asked_again_once(
    make_service: ServiceFactory, mode: Mode
) -> None:
    async with make_service(faults=FAULTS) as service:
        outcome = await service.run([ask(f"q{i}") for i in range(60)], mode=mode)
        results = [r async for r in service.get_batch_results(outcome.job.id)]
        events = await _events(service, outcome.job.id)

    assert len(results) == 60
    for result in results:
        if result.ok:
            assert result.json_valid is True
            assert set(json.loads(result.text or "")) >= {"label", "score"}
        else:
            assert result.error is not None
            assert result.error.code == "invalid_json"
    invalid = {r.custom_id for r in results if not r.ok}
    assert invalid, "the fault plan should leave some answers beyond repair"
    assert any(r.repairs for r in results)
    reasked = Counter(e.custom_id for e in events if isinstance(e, ItemRetried))
    if mode is Mode.REALTIME:
        assert reasked == Counter(invalid)
    else:
        assert reasked == Counter()
        fallback = [e for e in events if isinstance(e, FallbackStarted)]
        assert [e.count for e in fallback] == [len(invalid)]


@pytest.mark.parametrize("mode", [Mode.REALTIME, Mode.BATCH])
async def test_a_caller_that_asks_again_itself_gets_invalid_json_at_once(
    make_service: ServiceFactory, mode: Mode
) -> None:
    async with make_service(faults=FAULTS) as service:
        outcome = await service.run(
            [ask(f"q{i}") for i in range(60)], mode=mode, reask_invalid_json=False
        )
        results = [r async for r in service.get_batch_results(outcome.job.id)]
        events = await _events(service, outcome.job.id)

    assert any(r.error is not None and r.error.code == "invalid_json" for r in results)
    assert not [e for e in events if isinstance(e, ItemRetried | FallbackStarted)]
