"""`--format openai`: OpenAI batch output lines from every provider, readable by OpenAI's SDK.

A pipeline built on OpenAI's batch output parses `response.body` as a chat completion or an
embeddings list; these tests parse it with the official `openai` types, so a missing or
misshaped field fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion

from .conftest import Batchery, Emulator

CHAT_PROVIDERS = ["openai", "anthropic", "gemini"]
EMBEDDING_PROVIDERS = ["openai", "gemini"]


def _workload(path: Path, url: str, count: int) -> Path:
    with path.open("w") as handle:
        for i in range(count):
            body: dict[str, object] = (
                {"messages": [{"role": "user", "content": f"Say hi {i}"}], "max_tokens": 32}
                if url == "/v1/chat/completions"
                else {"input": f"document {i}"}
            )
            handle.write(
                json.dumps({"custom_id": f"q-{i}", "method": "POST", "url": url, "body": body})
                + "\n"
            )
    return path


def _run_openai_format(
    batchery: Batchery, emulator: Emulator, tmp_path: Path, provider: str, url: str
) -> list[dict[str, object]]:
    source = _workload(tmp_path / "in.jsonl", url, 25)
    base_url = emulator(provider)
    done = batchery(
        "run", str(source), "--provider", provider, "--base-url", base_url,
        "--format", "openai", "--out", "-",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["custom_id"] for line in lines] == [f"q-{i}" for i in range(25)]
    assert not (tmp_path / "in.results.jsonl").exists()
    return lines


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
def test_chat_results_are_openai_chat_completions_whatever_the_provider(
    provider: str, batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    lines = _run_openai_format(batchery, emulator, tmp_path, provider, "/v1/chat/completions")

    for line in lines:
        assert set(line) == {"id", "custom_id", "response", "error"}
        assert line["error"] is None
        response = line["response"]
        assert isinstance(response, dict)
        assert response["status_code"] == 200
        assert str(response["request_id"]).startswith("req_")
        completion = ChatCompletion.model_validate(response["body"])
        assert completion.object == "chat.completion"
        assert completion.choices[0].message.content
        assert completion.usage is not None
        assert completion.usage.total_tokens > 0
    assert len({line["id"] for line in lines}) == len(lines)


@pytest.mark.parametrize("provider", EMBEDDING_PROVIDERS)
def test_embedding_results_are_openai_embedding_lists_whatever_the_provider(
    provider: str, batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    lines = _run_openai_format(batchery, emulator, tmp_path, provider, "/v1/embeddings")

    for line in lines:
        response = line["response"]
        assert isinstance(response, dict)
        embeddings = CreateEmbeddingResponse.model_validate(response["body"])
        assert embeddings.object == "list"
        assert len(embeddings.data[0].embedding) > 0


def test_a_request_the_provider_refused_keeps_its_status_and_the_run_exits_1(
    batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    source = _workload(tmp_path / "in.jsonl", "/v1/chat/completions", 3)

    done = batchery(
        "run", str(source), "--base-url", emulator("openai", faults="http_500=1"),
        "--format", "openai", "--out", "-",
        env={"BATCHERY_MAX_ATTEMPTS": "1"},
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert line["error"] is None
        assert line["response"]["status_code"] == 500
        assert line["response"]["body"]["error"]["code"] == "server_error"
    assert "3x server_error" in done.stderr


def test_rerank_requests_are_refused_before_sending_since_openai_has_no_such_shape(
    batchery: Batchery, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"custom_id": "r1", "kind": "rerank", "query": "q", "documents": ["a", "b"]})
        + "\n"
    )

    done = batchery("run", str(source), "--provider", "voyage", "--format", "openai")

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: r1: rerank requests have no OpenAI output shape; use --format batchery"
    )


def test_out_dash_writes_batchery_results_to_stdout_and_nothing_else(
    batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    source = _workload(tmp_path / "in.jsonl", "/v1/chat/completions", 3)

    done = batchery("run", str(source), "--base-url", emulator("openai"), "--out", "-")

    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(row["custom_id"], row["ok"]) for row in rows] == [
        ("q-0", True),
        ("q-1", True),
        ("q-2", True),
    ]
    assert "completed: 3 succeeded" in done.stderr


def test_jobs_results_exports_the_same_openai_lines_as_the_run_wrote(
    batchery: Batchery, emulator: Emulator, tmp_path: Path
) -> None:
    source = _workload(tmp_path / "in.jsonl", "/v1/chat/completions", 4)
    done = batchery(
        "run", str(source), "--base-url", emulator("openai"), "--format", "openai",
        "--out", "run.jsonl", "--summary", "s.json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads((tmp_path / "s.json").read_text())["run_id"]

    exported = batchery("jobs", "results", run_id, "--format", "openai", "--out", "-")

    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == (tmp_path / "run.jsonl").read_text()
    assert exported.stderr == ""
