"""Neutral requests to OpenAI bodies and OpenAI answers back, without any network."""

from __future__ import annotations

import msgspec
import pytest
from batchery.model import BatchStatus, LlmRequest, Message, Mode, RequestKind
from batchery.secrets import Secret
from batchery_openai._translate import (
    batch_state,
    chat_result,
    embedding_result,
    input_line,
    kind_of_endpoint,
    request_body,
)
from batchery_openai._wire import BatchView, ChatCompletionView, EmbeddingView

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def _encoded(request: LlmRequest) -> object:
    return msgspec.json.decode(msgspec.json.encode(request_body(request)))


def test_chat_body_carries_every_option() -> None:
    request = LlmRequest(
        custom_id="c",
        model="gpt-4.1",
        messages=(Message("system", "Be brief."), Message("user", "2+2?")),
        max_tokens=10,
        temperature=0.0,
        response_schema=SCHEMA,
    )
    assert _encoded(request) == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "2+2?"},
        ],
        "max_completion_tokens": 10,
        "temperature": 0.0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
        },
    }


def test_minimal_chat_body_omits_unset_options_and_uses_the_default_model() -> None:
    request = LlmRequest(custom_id="c", messages=(Message("user", "hi"),))
    assert _encoded(request) == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_embedding_body_and_line() -> None:
    request = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="text")
    assert _encoded(request) == {
        "model": "text-embedding-3-small",
        "input": "text",
        "encoding_format": "float",
    }
    line = input_line(request)
    assert (line.custom_id, line.method, line.url) == ("e", "POST", "/v1/embeddings")


def test_rerank_has_no_body() -> None:
    with pytest.raises(ValueError, match="rerank"):
        request_body(LlmRequest(custom_id="r", kind=RequestKind.RERANK, query="q"))


@pytest.mark.parametrize(
    ("endpoint", "kind"),
    [
        ("/v1/embeddings", RequestKind.EMBEDDING),
        ("/v1/chat/completions", RequestKind.CHAT),
        (None, RequestKind.CHAT),
    ],
)
def test_kind_of_endpoint(endpoint: str | None, kind: RequestKind) -> None:
    assert kind_of_endpoint(endpoint) is kind


def test_chat_answer_with_usage() -> None:
    view = msgspec.json.decode(
        b'{"model":"gpt-4o-mini-2024","choices":[{"message":{"content":"4"},'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":1,'
        b'"prompt_tokens_details":{"cached_tokens":8}}}',
        type=ChatCompletionView,
    )
    result = chat_result("c", view, Mode.REALTIME)
    assert result is not None
    assert (result.ok, result.text, result.model, result.mode) == (
        True,
        "4",
        "gpt-4o-mini-2024",
        Mode.REALTIME,
    )
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 1)
    assert result.usage.cached_tokens == 8


def test_refusal_and_empty_answers() -> None:
    refusal = msgspec.json.decode(
        b'{"choices":[{"message":{"content":null,"refusal":"I cannot help."}}]}',
        type=ChatCompletionView,
    )
    result = chat_result("c", refusal, Mode.BATCH)
    assert result is not None
    assert result.error is not None
    assert (result.ok, result.error.code, result.error.retryable) == (False, "refusal", False)
    assert chat_result("c", ChatCompletionView(choices=[]), Mode.BATCH) is None


def test_embedding_answer_takes_index_zero() -> None:
    view = msgspec.json.decode(
        b'{"data":[{"index":1,"embedding":[9.0]},{"index":0,"embedding":[1.0,2.0]}],'
        b'"usage":{"prompt_tokens":2}}',
        type=EmbeddingView,
    )
    result = embedding_result("e", view, Mode.BATCH)
    assert result is not None
    assert result.vector == (1.0, 2.0)
    assert result.usage.input_tokens == 2
    assert embedding_result("e", EmbeddingView(data=[]), Mode.BATCH) is None


def test_batch_state_from_a_batch_object() -> None:
    key = "sk-proj-canaryCANARY0123456789"
    view = msgspec.json.decode(
        msgspec.json.encode(
            {
                "id": "batch_1",
                "object": "batch",
                "status": "failed",
                "created_at": 1760000000,
                "request_counts": {"total": 3, "completed": 1, "failed": 2},
                "metadata": {"batchery_tag": "job-1:0"},
                "errors": {
                    "data": [
                        {"code": "token_limit_exceeded", "message": f"limit for {key}"},
                        {"code": "invalid_json_line", "message": "bad", "line": 2},
                    ]
                },
            }
        ),
        type=BatchView,
    )
    state = batch_state(view, Secret(key))
    assert state.batch_id == "batch_1"
    assert state.status is BatchStatus.FAILED
    assert (state.total, state.completed, state.failed) == (3, 1, 2)
    assert state.tag == "job-1:0"
    assert state.created_at == 1760000000.0
    assert state.error is not None
    assert "token_limit_exceeded" in state.error
    assert "invalid_json_line (line 2): bad" in state.error
    assert key not in state.error


def test_unknown_status_reads_as_in_progress_and_missing_fields_as_empty() -> None:
    view = BatchView(id="b", status="queued_somewhere", created_at=1.0)
    state = batch_state(view, None)
    assert state.status is BatchStatus.IN_PROGRESS
    assert (state.total, state.tag, state.error) == (0, None, None)
