"""`batchery run` checks the whole file before the first call: numbered refusals, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchery.cli._exit import ExitCode
from openai import OpenAI

from .processes import EmulatorFactory, batchery

KEY = {"OPENAI_API_KEY": "sk-test-checks"}


def _chat(custom_id: str, model: str = "gpt-4o-mini", url: str = "/v1/chat/completions") -> bytes:
    line = {
        "custom_id": custom_id,
        "method": "POST",
        "url": url,
        "body": {"model": model, "messages": [{"role": "user", "content": "Hi"}]},
    }
    return json.dumps(line).encode()


def _file(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _run(base_url: str, source: Path, *extra: str) -> tuple[int, str, str]:
    store = source.with_name("jobs.db")
    done = batchery(
        "run", str(source), "--base-url", base_url, "--store", str(store), *extra, env=KEY
    )
    return done.returncode, done.stdout, done.stderr


def _nothing_sent(base_url: str) -> bool:
    client = OpenAI(base_url=base_url, api_key=KEY["OPENAI_API_KEY"])
    return not client.batches.list().data and not client.files.list().data


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (
            _chat("x").replace(b"Hi", b"Hi \xff"),
            "line 2: is not UTF-8 text (byte 0xff at offset 146)",
        ),
        (
            b'{"custom_id": "x", "body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "line 2: is nested more than 64 levels deep",
        ),
        (
            _chat("x", url="/v1/images/generations"),
            "line 2 (custom_id 'x'): url '/v1/images/generations' is not an endpoint Batchery"
            " runs (one of /v1/chat/completions, /v1/embeddings, /v1/rerank)",
        ),
        (
            b'{"custom_id": "x", "kind": "rerank", "query": "q", "documents": ["d"]}',
            "line 2 (custom_id 'x'): kind 'rerank' is not supported by openai"
            " (it supports chat, embedding)",
        ),
        (
            _chat("x").replace(b"Hi", b"Hi " * 1_700_000),
            "line 2 (custom_id 'x'): the request needs about 1,275,000 tokens (1,275,000 of"
            " input), more than the 128,000-token context window of gpt-4o-mini",
        ),
    ],
    ids=["raw-byte", "deep-nesting", "unknown-url", "unsupported-kind", "five-megabytes"],
)
def test_a_bad_line_is_refused_by_number_before_anything_is_sent(
    tmp_path: Path, emulated: EmulatorFactory, line: bytes, rule: str
) -> None:
    source = _file(tmp_path, _chat("ok"), line, _chat("ok-2"))

    with emulated("openai") as base_url:
        code, out, err = _run(base_url, source)
        assert _nothing_sent(base_url)

    assert code == ExitCode.USAGE
    assert err.strip().splitlines() == [f"{source}: {rule}"]
    assert "Traceback" not in err
    assert out == ""
    assert not source.with_name("in.results.jsonl").exists()


def test_a_file_of_bad_lines_names_the_first_ten_and_counts_the_rest(
    tmp_path: Path, emulated: EmulatorFactory
) -> None:
    without_url = [json.loads(_chat(f"q-{i}")) for i in range(30)]
    for line in without_url:
        del line["url"], line["method"]
    source = _file(tmp_path, *(json.dumps(line).encode() for line in without_url))

    with emulated("openai") as base_url:
        code, _, err = _run(base_url, source)
        assert _nothing_sent(base_url)

    lines = err.strip().splitlines()
    assert code == ExitCode.USAGE
    assert lines[0] == (
        f"{source}: line 1 (custom_id 'q-0'): has no \"url\": a line in OpenAI's batch format"
        ' names its endpoint, e.g. "url": "/v1/chat/completions"'
    )
    assert len(lines) == 11
    assert lines[-1] == f"{source}: ... and 20 more problems; nothing was sent"


def test_a_file_that_opens_with_a_byte_order_mark_runs(
    tmp_path: Path, emulated: EmulatorFactory
) -> None:
    source = _file(tmp_path, b"\xef\xbb\xbf" + _chat("a"), _chat("b"))

    with emulated("openai") as base_url:
        code, out, err = _run(base_url, source, "--mode", "realtime")

    assert code == ExitCode.OK, err
    assert json.loads(out)["succeeded"] == 2


def test_an_unknown_model_is_a_warning_and_with_strict_a_refusal(
    tmp_path: Path, emulated: EmulatorFactory
) -> None:
    source = _file(tmp_path, _chat("a", model="gpt-9-turbo"), _chat("b"))
    warning = (
        f"{source}: warning: line 1 (custom_id 'a'): model 'gpt-9-turbo' is not one openai"
        " lists for chat requests"
    )

    with emulated("openai") as base_url:
        code, out, err = _run(base_url, source, "--mode", "realtime")
        assert code == ExitCode.OK, err
        assert warning in err
        assert json.loads(out)["succeeded"] == 2

        source.write_bytes(source.read_bytes().replace(b'"b"', b'"c"'))
        code, out, err = _run(base_url, source, "--mode", "batch", "--strict")
        assert _nothing_sent(base_url)

    assert code == ExitCode.USAGE
    assert err.startswith(f"{source}: line 1 (custom_id 'a'): model 'gpt-9-turbo' is not one")
    assert "warning" not in err


def test_a_model_in_the_file_that_overrides_the_run_model_is_named(
    tmp_path: Path, emulated: EmulatorFactory
) -> None:
    source = _file(tmp_path, _chat("a", model="gpt-4o"), _chat("b"))

    with emulated("openai") as base_url:
        code, _, err = _run(base_url, source, "--model", "gpt-4o-mini", "--dry-run", "--strict")

    assert code == ExitCode.USAGE
    assert err.strip() == (
        f"{source}: line 1 (custom_id 'a'): names model 'gpt-4o', which wins over the run's"
        " model 'gpt-4o-mini' (that applies only to requests that name none)"
    )
