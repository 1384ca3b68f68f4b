"""Neutral requests to Gemini bodies, and Gemini answers back to results and batch states."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from batchery.model import BatchStatus, LlmRequest, Message, Mode, RequestKind, Usage
from batchery.secrets import Secret
from batchery_gemini._translate import (
    batch_state,
    batch_status,
    display_name,
    model_path,
    parse_time,
    request_body,
    request_problem,
    response_result,
    tag_of,
)
from batchery_gemini._wire import OperationView, ResponseView

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}


def _json(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def test_chat_body_moves_system_messages_and_renames_roles() -> None:
    request = LlmRequest(
        custom_id="a",
        messages=(
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "Bye"),
        ),
    )
    assert _json(request_body(request)) == {
        "contents": [
            {"parts": [{"text": "Hi"}], "role": "user"},
            {"parts": [{"text": "Hello"}], "role": "model"},
            {"parts": [{"text": "Bye"}], "role": "user"},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }


def test_generation_config_carries_limits_and_a_json_schema() -> None:
    request = LlmRequest(
        custom_id="a",
        messages=(Message("user", "Classify"),),
        max_tokens=64,
        temperature=0.0,
        response_schema=SCHEMA,
    )
    assert _json(request_body(request))["generationConfig"] == {
        "maxOutputTokens": 64,
        "temperature": 0.0,
        "responseMimeType": "application/json",
        "responseJsonSchema": SCHEMA,
    }


def test_embedding_body_names_the_model_and_maps_the_input_type() -> None:
    request = LlmRequest(
        custom_id="e", kind=RequestKind.EMBEDDING, input="text", input_type="document"
    )
    assert _json(request_body(request)) == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "text"}]},
        "taskType": "RETRIEVAL_DOCUMENT",
    }
    query = msgspec.structs.replace(request, input_type="query", model="models/text-embedding-004")
    body = _json(request_body(query))
    assert (body["taskType"], body["model"]) == ("RETRIEVAL_QUERY", "models/text-embedding-004")


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (LlmRequest(custom_id="a", kind=RequestKind.RERANK, query="q"), "does not serve"),
        (LlmRequest(custom_id="a", messages=(Message("system", "x"),)), "user or assistant"),
        (LlmRequest(custom_id="a", messages=(Message("tool", "x"),)), "no message role"),
        (LlmRequest(custom_id="a", messages=(Message("user", "x"),), model="a/../b"), "model"),
        (LlmRequest(custom_id="a", messages=(Message("user", "x"),), temperature=2.5), "0 and 2"),
        (LlmRequest(custom_id="a", kind=RequestKind.EMBEDDING, input=""), "non-empty input"),
        (
            LlmRequest(custom_id="a", kind=RequestKind.EMBEDDING, input="x", input_type="bogus"),
            "task type",
        ),
    ],
)
def test_request_problems_are_said_for_a_person(request_: LlmRequest, problem: str) -> None:
    found = request_problem(request_)
    assert found is not None
    assert problem in found


def test_valid_requests_have_no_problem() -> None:
    chat = LlmRequest(custom_id="a", messages=(Message("user", "x"),), model="gemini-2.5-pro")
    embed = LlmRequest(
        custom_id="b", kind=RequestKind.EMBEDDING, input="x", input_type="SEMANTIC_SIMILARITY"
    )
    assert request_problem(chat) is None
    assert request_problem(embed) is None


def test_model_paths_are_resource_names_with_quoted_ids() -> None:
    assert model_path("gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_path("models/gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_path("tunedModels/my model") == "tunedModels/my%20model"


def _response(body: dict[str, Any]) -> ResponseView:
    return msgspec.json.decode(msgspec.json.encode(body), type=ResponseView)


def test_usage_is_normalised_from_usage_metadata() -> None:
    view = _response(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "plan", "thought": True}, {"text": "Hi"}, {"text": "!"}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 100,
                "cachedContentTokenCount": 64,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 7,
                "toolUsePromptTokenCount": 3,
                "totalTokenCount": 115,
            },
            "modelVersion": "gemini-2.5-flash-001",
        }
    )
    result = response_result("a", view, Mode.BATCH, "gemini-2.5-flash")
    assert result is not None
    assert result.ok
    assert result.text == "Hi!"
    assert result.model == "gemini-2.5-flash-001"
    assert result.usage == Usage(input_tokens=103, output_tokens=12, cached_tokens=64)


def test_a_truncated_answer_is_still_an_answer() -> None:
    view = _response(
        {"candidates": [{"content": {"parts": [{"text": "Hal"}]}, "finishReason": "MAX_TOKENS"}]}
    )
    result = response_result("a", view, Mode.REALTIME)
    assert result is not None
    assert (result.ok, result.text) == (True, "Hal")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "blocked"),
        ({"candidates": [{"finishReason": "SAFETY"}]}, "content_filter"),
        ({"candidates": [{"content": {"parts": []}, "finishReason": "MAX_TOKENS"}]}, "max_tokens"),
    ],
)
def test_answers_without_text_are_explicit_failures(body: dict[str, Any], code: str) -> None:
    result = response_result("a", _response(body), Mode.BATCH)
    assert result is not None
    assert not result.ok
    assert result.error is not None
    assert result.error.code == code
    assert not result.error.retryable


def test_an_empty_response_is_unreadable() -> None:
    assert response_result("a", _response({}), Mode.BATCH) is None
    assert response_result("a", _response({"embedding": {"values": []}}), Mode.BATCH) is None


def test_embedding_answers_become_vectors() -> None:
    view = _response(
        {"embedding": {"values": [0.5, -0.25]}, "usageMetadata": {"promptTokenCount": 2}}
    )
    result = response_result("e", view, Mode.BATCH, "gemini-embedding-001")
    assert result is not None
    assert result.vector == (0.5, -0.25)
    assert result.usage.input_tokens == 2


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("BATCH_STATE_PENDING", BatchStatus.VALIDATING),
        ("JOB_STATE_PENDING", BatchStatus.VALIDATING),
        ("BATCH_STATE_RUNNING", BatchStatus.IN_PROGRESS),
        ("JOB_STATE_RUNNING", BatchStatus.IN_PROGRESS),
        ("BATCH_STATE_SUCCEEDED", BatchStatus.COMPLETED),
        ("JOB_STATE_SUCCEEDED", BatchStatus.COMPLETED),
        ("BATCH_STATE_FAILED", BatchStatus.FAILED),
        ("JOB_STATE_FAILED", BatchStatus.FAILED),
        ("BATCH_STATE_CANCELLED", BatchStatus.CANCELLED),
        ("JOB_STATE_CANCELLED", BatchStatus.CANCELLED),
        ("JOB_STATE_CANCELLING", BatchStatus.CANCELLING),
        ("BATCH_STATE_EXPIRED", BatchStatus.EXPIRED),
        ("JOB_STATE_EXPIRED", BatchStatus.EXPIRED),
        ("BATCH_STATE_UNSPECIFIED", BatchStatus.IN_PROGRESS),
    ],
)
def test_both_state_spellings_map_to_the_same_status(state: str, status: BatchStatus) -> None:
    assert batch_status(state) is status


def test_an_unknown_state_of_a_finished_operation_follows_its_error() -> None:
    assert batch_status("BATCH_STATE_NEW", done=True) is BatchStatus.COMPLETED
    assert batch_status("BATCH_STATE_NEW", done=True, failed=True) is BatchStatus.FAILED


def test_rfc3339_timestamps_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2025-07-01T12:34:56.123456789Z") == pytest.approx(1751373296.123456)
    assert parse_time("2025-07-01T12:34:56Z") == 1751373296.0
    assert parse_time("2025-07-01T14:34:56.5+02:00") == 1751373296.5
    assert parse_time("not a time") is None
    assert parse_time(None) is None


def test_batch_state_reads_int64_counters_sent_as_strings() -> None:
    operation = msgspec.json.decode(
        msgspec.json.encode(
            {
                "name": "batches/abc",
                "metadata": {
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1main."
                    "GenerateContentBatch",
                    "displayName": display_name("tag-1"),
                    "state": "BATCH_STATE_RUNNING",
                    "createTime": "2025-07-01T12:34:56.000000001Z",
                    "batchStats": {
                        "requestCount": "10",
                        "successfulRequestCount": "6",
                        "failedRequestCount": "1",
                        "pendingRequestCount": "3",
                    },
                },
            }
        ),
        type=OperationView,
    )
    state = batch_state(operation, None)
    assert (state.batch_id, state.status, state.tag) == (
        "batches/abc",
        BatchStatus.IN_PROGRESS,
        "tag-1",
    )
    assert (state.total, state.completed, state.failed) == (10, 6, 1)
    assert state.created_at == pytest.approx(1751373296.0)


def test_counters_left_out_at_zero_read_as_zero_and_errors_are_redacted() -> None:
    key = "AIzaSyCANARYtranslate0123456789abcdef"
    operation = msgspec.json.decode(
        msgspec.json.encode(
            {
                "name": "batches/x",
                "done": True,
                "error": {"code": 3, "message": f"bad key {key}"},
                "metadata": {"state": "BATCH_STATE_FAILED", "batchStats": {"requestCount": "4"}},
            }
        ),
        type=OperationView,
    )
    state = batch_state(operation, Secret(key))
    assert (state.status, state.total, state.completed, state.failed) == (
        BatchStatus.FAILED,
        4,
        0,
        0,
    )
    assert state.error is not None
    assert "INVALID_ARGUMENT" in state.error
    assert key not in state.error
    assert state.tag is None


def test_tags_travel_in_display_names() -> None:
    assert tag_of(display_name("abc")) == "abc"
    assert tag_of("someone else's batch") is None
    assert tag_of(None) is None
