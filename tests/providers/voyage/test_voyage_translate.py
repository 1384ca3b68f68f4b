"""Neutral requests to Voyage bodies and back: realtime bodies, batch lines, batch parameters,
vectors in both encodings, per-chunk vectors, rerank scores in document order, batch states."""

from __future__ import annotations

import base64
import struct

import msgspec
import pytest
from batchery.model import BatchStatus, LlmRequest, Mode, RequestKind
from batchery.secrets import Secret
from batchery_voyage._options import VoyageOptions
from batchery_voyage._results import (
    UNRANKED_SCORE,
    contextual_result,
    decode_vector,
    embedding_result,
    rerank_result,
)
from batchery_voyage._state import batch_state, parse_time
from batchery_voyage._translate import (
    BatchParams,
    MixedBatchError,
    input_line,
    kind_of_endpoint,
    request_body,
)
from batchery_voyage._wire import BatchView, ContextualView, EmbeddingView, RerankView

OPTIONS = VoyageOptions()


def _embedding(custom_id: str = "e", **fields: object) -> LlmRequest:
    return LlmRequest(
        custom_id=custom_id,
        kind=RequestKind.EMBEDDING,
        input="hello world",
        **fields,  # type: ignore[arg-type]
    )


def _rerank(custom_id: str = "r", **fields: object) -> LlmRequest:
    return LlmRequest(
        custom_id=custom_id,
        kind=RequestKind.RERANK,
        query="capital of France",
        documents=("Berlin", "Paris", "Rome", "Madrid"),
        **fields,  # type: ignore[arg-type]
    )


def _contextual(custom_id: str = "c", **fields: object) -> LlmRequest:
    return LlmRequest(
        custom_id=custom_id,
        kind=RequestKind.CONTEXTUAL_EMBEDDING,
        chunks=("first chunk", "second chunk", "third chunk"),
        **fields,  # type: ignore[arg-type]
    )


def _encoded(body: object) -> object:
    return msgspec.json.decode(msgspec.json.encode(body))


def _base64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def test_embedding_body_asks_for_base64_and_sends_the_input_type() -> None:
    body = _encoded(request_body(_embedding(input_type="query", model="voyage-4-lite"), OPTIONS))
    assert body == {
        "model": "voyage-4-lite",
        "input": ["hello world"],
        "input_type": "query",
        "truncation": True,
        "encoding_format": "base64",
    }


def test_embedding_body_without_base64_or_input_type_leaves_them_to_voyage() -> None:
    options = VoyageOptions(base64=False, truncation=False)
    body = _encoded(request_body(_embedding(), options))
    assert body == {"model": "voyage-4", "input": ["hello world"], "truncation": False}


def test_contextual_body_sends_one_document_of_chunks_in_order() -> None:
    body = _encoded(request_body(_contextual(input_type="document"), OPTIONS))
    assert body == {
        "model": "voyage-context-3",
        "inputs": [["first chunk", "second chunk", "third chunk"]],
        "input_type": "document",
        "encoding_format": "base64",
    }


def test_rerank_body_sends_query_documents_and_top_k() -> None:
    body = _encoded(request_body(_rerank(top_k=2), OPTIONS))
    assert body == {
        "model": "rerank-2.5",
        "query": "capital of France",
        "documents": ["Berlin", "Paris", "Rome", "Madrid"],
        "top_k": 2,
        "truncation": True,
    }


def test_chat_has_no_voyage_body() -> None:
    chat = LlmRequest(custom_id="x", kind=RequestKind.CHAT)
    with pytest.raises(ValueError, match="does not serve chat"):
        request_body(chat, OPTIONS)
    with pytest.raises(ValueError, match="does not serve chat"):
        input_line(chat)


@pytest.mark.parametrize(
    ("request_", "line"),
    [
        (_embedding("e-1"), {"custom_id": "e-1", "body": {"input": ["hello world"]}}),
        (
            _contextual("c-1"),
            {
                "custom_id": "c-1",
                "body": {"inputs": [["first chunk", "second chunk", "third chunk"]]},
            },
        ),
        (
            _rerank("r-1", top_k=3),
            {
                "custom_id": "r-1",
                "body": {
                    "query": "capital of France",
                    "documents": ["Berlin", "Paris", "Rome", "Madrid"],
                },
            },
        ),
    ],
)
def test_batch_lines_hold_only_the_data(request_: LlmRequest, line: object) -> None:
    assert _encoded(input_line(request_)) == line


def test_batch_params_carry_the_model_and_the_shared_input_type() -> None:
    params = BatchParams()
    for i in range(3):
        params.add(_embedding(f"e-{i}", input_type="document", model="voyage-3.5"))
    assert params.endpoint == "/v1/embeddings"
    assert params.count == 3
    assert params.request_params(OPTIONS) == {
        "model": "voyage-3.5",
        "input_type": "document",
        "truncation": True,
    }
    assert params.request_params(VoyageOptions(batch_base64=True))["encoding_format"] == "base64"


def test_batch_params_refuse_mixed_input_types() -> None:
    params = BatchParams()
    params.add(_embedding("a", input_type="query"))
    params.add(_embedding("b", input_type="document"))
    with pytest.raises(MixedBatchError, match="input_type"):
        params.request_params(OPTIONS)


def test_batch_params_refuse_mixed_kinds_and_models() -> None:
    params = BatchParams()
    params.add(_embedding("a"))
    with pytest.raises(ValueError, match="single kind and model"):
        params.add(_rerank("b"))
    with pytest.raises(ValueError, match="single kind and model"):
        params.add(_embedding("c", model="voyage-3-lite"))


def test_rerank_batch_params_leave_top_k_out_and_share_it_when_common() -> None:
    params = BatchParams()
    params.add(_rerank("a", top_k=2))
    params.add(_rerank("b", top_k=2))
    assert params.request_params(OPTIONS) == {"model": "rerank-2.5", "truncation": True}
    assert params.shared_top_k() == 2
    params.add(_rerank("c"))
    assert params.shared_top_k() is None


def test_contextual_batch_params_have_no_truncation() -> None:
    params = BatchParams()
    params.add(_contextual(input_type="query"))
    assert params.request_params(OPTIONS) == {"model": "voyage-context-3", "input_type": "query"}


@pytest.mark.parametrize(
    ("endpoint", "kind"),
    [
        ("/v1/embeddings", RequestKind.EMBEDDING),
        ("/v1/contextualizedembeddings", RequestKind.CONTEXTUAL_EMBEDDING),
        ("/v1/rerank/", RequestKind.RERANK),
        ("/v1/multimodalembeddings", None),
        (None, None),
    ],
)
def test_kind_of_endpoint(endpoint: str | None, kind: RequestKind | None) -> None:
    assert kind_of_endpoint(endpoint) is kind


def test_vectors_decode_from_numbers_and_from_base64_alike() -> None:
    values = [0.5, -0.25, 0.125, 1.0]
    assert decode_vector(values) == tuple(values)
    assert decode_vector(_base64(values)) == tuple(values)
    with pytest.raises(ValueError, match="whole number"):
        decode_vector(base64.b64encode(b"\x00\x01\x02").decode())
    with pytest.raises(ValueError, match="neither"):
        decode_vector("not base64 at all!")


@pytest.mark.parametrize("encoded", [False, True])
def test_embedding_result_reads_either_encoding(encoded: bool) -> None:
    values = [0.5, -0.25, 0.75]
    embedding: object = _base64(values) if encoded else values
    view = msgspec.convert(
        {
            "object": "list",
            "data": [{"object": "embedding", "embedding": embedding, "index": 0}],
            "model": "voyage-4",
            "usage": {"total_tokens": 7},
        },
        EmbeddingView,
    )
    result = embedding_result("e", view, Mode.REALTIME)
    assert result is not None
    assert (result.ok, result.vector, result.model) == (True, tuple(values), "voyage-4")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (7, 0)


def test_embedding_result_without_data_is_unreadable() -> None:
    assert embedding_result("e", EmbeddingView(data=[]), Mode.BATCH) is None


def test_contextual_result_orders_chunks_by_index() -> None:
    view = msgspec.convert(
        {
            "data": [
                {
                    "data": [
                        {"embedding": [2.0], "index": 2},
                        {"embedding": _base64([0.0]), "index": 0},
                        {"embedding": [1.0], "index": 1},
                    ],
                    "index": 0,
                }
            ],
            "usage": {"total_tokens": 9},
        },
        ContextualView,
    )
    result = contextual_result("c", view, Mode.BATCH, chunks=3)
    assert result is not None
    assert result.vectors == ((0.0,), (1.0,), (2.0,))
    assert result.usage.input_tokens == 9
    assert contextual_result("c", view, Mode.BATCH, chunks=2) is None


def test_contextual_result_without_indexes_keeps_list_order() -> None:
    view = msgspec.convert(
        {"data": [{"data": [{"embedding": [3.0]}, {"embedding": [4.0]}]}]}, ContextualView
    )
    result = contextual_result("c", view, Mode.REALTIME)
    assert result is not None
    assert result.vectors == ((3.0,), (4.0,))


def _ranking(*pairs: tuple[int, float]) -> RerankView:
    data = [{"index": index, "relevance_score": score} for index, score in pairs]
    return msgspec.convert({"data": data, "usage": {"total_tokens": 12}}, RerankView)


def test_rerank_scores_come_back_in_document_order() -> None:
    view = _ranking((1, 0.9), (3, 0.6), (0, 0.3), (2, 0.1))
    result = rerank_result("r", view, Mode.BATCH)
    assert result is not None
    assert result.scores == (0.3, 0.9, 0.1, 0.6)
    assert result.usage.input_tokens == 12


def test_rerank_top_k_answer_fills_unranked_documents() -> None:
    view = _ranking((1, 0.9), (3, 0.6))
    result = rerank_result("r", view, Mode.REALTIME, documents=4, top_k=2)
    assert result is not None
    assert result.scores == (UNRANKED_SCORE, 0.9, UNRANKED_SCORE, 0.6)


def test_rerank_top_k_trims_a_full_answer_to_match_a_trimmed_one() -> None:
    full = rerank_result("r", _ranking((1, 0.9), (3, 0.6), (0, 0.3), (2, 0.1)), Mode.BATCH, top_k=2)
    trimmed = rerank_result("r", _ranking((1, 0.9), (3, 0.6)), Mode.BATCH, documents=4, top_k=2)
    assert full is not None
    assert trimmed is not None
    assert full.scores == trimmed.scores


@pytest.mark.parametrize(
    ("pairs", "documents", "top_k"),
    [
        (((0, 0.5), (0, 0.4)), None, None),
        (((0, 0.5), (5, 0.4)), None, None),
        (((0, 0.5),), 3, None),
        (((0, 0.5),), 3, 2),
        ((), None, None),
    ],
)
def test_inconsistent_rerank_answers_are_unreadable(
    pairs: tuple[tuple[int, float], ...], documents: int | None, top_k: int | None
) -> None:
    view = _ranking(*pairs)
    assert rerank_result("r", view, Mode.BATCH, documents=documents, top_k=top_k) is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("validating", BatchStatus.VALIDATING),
        ("in_progress", BatchStatus.IN_PROGRESS),
        ("finalizing", BatchStatus.FINALIZING),
        ("partial_finalizing", BatchStatus.FINALIZING),
        ("completed", BatchStatus.COMPLETED),
        ("partially_completed", BatchStatus.EXPIRED),
        ("expired", BatchStatus.EXPIRED),
        ("cancelling", BatchStatus.CANCELLING),
        ("canceling", BatchStatus.CANCELLING),
        ("cancelled", BatchStatus.CANCELLED),
        ("canceled", BatchStatus.CANCELLED),
        ("failed", BatchStatus.FAILED),
        ("something_new", BatchStatus.IN_PROGRESS),
    ],
)
def test_batch_statuses_in_every_spelling(raw: str, status: BatchStatus) -> None:
    view = BatchView(id="batch-1", status=raw, created_at="2025-02-11T19:52:02+00:00")
    assert batch_state(view, None).status is status


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("2025-02-11T19:52:02.536100+00:00", 1739303522.5361),
        ("2025-02-11T19:52:02Z", 1739303522.0),
        ("2025-02-11 19:52:02", 1739303522.0),
        ("2025-02-11T20:52:02+01:00", 1739303522.0),
        (1739303522, 1739303522.0),
        (None, None),
        ("yesterday", None),
    ],
)
def test_times_in_every_form(raw: str | float | None, seconds: float | None) -> None:
    assert parse_time(raw) == pytest.approx(seconds)


def test_batch_state_reads_counts_tag_and_redacted_errors() -> None:
    key = Secret("pa-secretvalue0123456789")
    view = msgspec.convert(
        {
            "id": "batch-1",
            "status": "failed",
            "created_at": "2025-02-11T19:52:02+00:00",
            "request_counts": {"total": 4, "completed": 1, "failed": 3},
            "metadata": {"batchery_tag": "job-7", "other": 3},
            "errors": {
                "object": "list",
                "data": [
                    {"code": "invalid_body", "line": 2, "message": "bad pa-secretvalue0123456789"}
                ],
            },
        },
        BatchView,
    )
    state = batch_state(view, key)
    assert (state.total, state.completed, state.failed) == (4, 1, 3)
    assert state.tag == "job-7"
    assert state.created_at == 1739303522.0
    assert state.error == "invalid_body (line 2): bad [redacted]"


@pytest.mark.parametrize(
    ("finalizing_at", "status"),
    [
        ("2025-02-12T07:52:02+00:00", BatchStatus.EXPIRED),
        ("2025-02-12T07:52:03+00:00", BatchStatus.EXPIRED),
        ("2025-02-11T20:10:00+00:00", BatchStatus.COMPLETED),
        (None, BatchStatus.COMPLETED),
    ],
)
def test_a_completed_batch_finalized_at_its_deadline_ran_out_of_time(
    finalizing_at: str | None, status: BatchStatus
) -> None:
    view = BatchView(
        id="batch-1",
        status="completed",
        created_at="2025-02-11T19:52:02+00:00",
        finalizing_at=finalizing_at,
        expected_completion_at="2025-02-12T07:52:02+00:00",
    )
    assert batch_state(view, None).status is status
