"""Reading workload files: both formats, and a clear word for every bad line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
from batchery.inputs import read_input
from batchery.model import LlmRequest, Message, RequestKind
from batchery.service.validation import check_item
from hypothesis import given
from hypothesis import strategies as st


def _write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b"".join(
            (line if isinstance(line, bytes) else msgspec.json.encode(line)) + b"\n"
            for line in lines
        )
    )
    return path


def test_openai_batch_lines_become_neutral_requests(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "custom_id": "q-1",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4o-mini",
                "max_tokens": 20,
                "temperature": 0.2,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": "object"}},
                },
            },
        },
        {
            "custom_id": "e-1",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": "a sentence"},
        },
    )

    parsed = read_input(path)

    assert parsed.problems == []
    assert parsed.items == [
        LlmRequest(
            custom_id="q-1",
            model="gpt-4o-mini",
            messages=(Message("user", "Hi"),),
            max_tokens=20,
            temperature=0.2,
            response_schema={"type": "object"},
        ),
        LlmRequest(
            custom_id="e-1",
            kind=RequestKind.EMBEDDING,
            model="text-embedding-3-small",
            input="a sentence",
        ),
    ]


def test_neutral_lines_are_read_as_they_are(tmp_path: Path) -> None:
    line = {"custom_id": "n-1", "kind": "embedding", "input": "text"}

    parsed = read_input(_write(tmp_path, line, b"", line | {"custom_id": "n-2"}))

    assert [item.custom_id for item in parsed.items] == ["n-1", "n-2"]


def test_lines_without_a_usable_id_stop_the_run_with_their_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b"{not json",
        [1, 2],
        {"kind": "chat"},
        {"custom_id": ""},
        {"custom_id": "a", "messages": []},
        {"custom_id": "a", "messages": []},
    )

    problems = [str(p) for p in read_input(path).problems]

    assert problems[0].startswith("line 1: not valid JSON")
    assert problems[1:] == [
        "line 2: each line must be a JSON object",
        "line 3: custom_id must be a string",
        "line 4: custom_id must not be empty",
        "line 6: custom_id 'a' is a duplicate of line 5",
    ]


def test_a_bad_request_with_a_good_id_is_refused_naming_line_and_id(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"custom_id": "k", "kind": "translate"},
        {"custom_id": "u", "method": "POST", "url": "/v1/images", "body": {}},
        {"custom_id": "m", "messages": "hello"},
    )

    parsed = read_input(path)

    assert parsed.items == []
    problems = [str(p) for p in parsed.problems]
    assert problems[0] == (
        "line 1 (custom_id 'k'): kind 'translate' is not one of chat, embedding, "
        "contextual_embedding, rerank"
    )
    assert problems[1].startswith(
        "line 2 (custom_id 'u'): url '/v1/images' is not an endpoint Batchery runs"
    )
    assert problems[2].startswith("line 3 (custom_id 'm'): Expected `array`")


def test_bytes_that_are_not_utf8_are_a_numbered_problem(tmp_path: Path) -> None:
    good = b'{"custom_id": "a", "kind": "embedding", "input": "x"}'
    path = _write(tmp_path, good, b'{"custom_id": "b", "kind": "embedding", "input": "\xff"}')

    parsed = read_input(path)

    assert [str(p) for p in parsed.problems] == [
        "line 2: is not UTF-8 text (byte 0xff at offset 50)"
    ]
    assert [item.custom_id for item in parsed.items] == ["a"]


def test_endless_nesting_is_a_numbered_problem_not_a_crash(tmp_path: Path) -> None:
    deep = b'{"custom_id": "d", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    schema: dict[str, object] = {"type": "object"}
    for _ in range(70):
        schema = {"type": "object", "properties": {"p": schema}}
    path = _write(tmp_path, deep, {"custom_id": "s", "messages": [], "response_schema": schema})

    assert [str(p) for p in read_input(path).problems] == [
        "line 1: is nested more than 64 levels deep",
        "line 2: is nested more than 64 levels deep",
    ]


def test_a_byte_order_mark_opens_a_file_but_is_named_anywhere_else(tmp_path: Path) -> None:
    line = b'{"custom_id": "a", "kind": "embedding", "input": "x"}'
    path = _write(tmp_path, b"\xef\xbb\xbf" + line, b"\xef\xbb\xbf" + line.replace(b'"a"', b'"b"'))

    parsed = read_input(path)

    assert [item.custom_id for item in parsed.items] == ["a"]
    assert [str(p) for p in parsed.problems] == [
        "line 2: starts with a UTF-8 byte order mark (BOM); only the file's start may"
    ]


def test_each_request_remembers_its_line(tmp_path: Path) -> None:
    line = {"custom_id": "a", "kind": "embedding", "input": "x"}

    parsed = read_input(_write(tmp_path, b"", line, b"", line | {"custom_id": "b"}))

    assert [parsed.line_of(1), parsed.line_of(2)] == [2, 4]


def test_the_digest_follows_the_content(tmp_path: Path) -> None:
    first = read_input(_write(tmp_path, {"custom_id": "a", "input": "x", "kind": "embedding"}))
    same = read_input(_write(tmp_path, {"custom_id": "a", "input": "x", "kind": "embedding"}))
    other = read_input(_write(tmp_path, {"custom_id": "a", "input": "y", "kind": "embedding"}))

    assert first.digest == same.digest != other.digest


def test_an_empty_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")

    assert [str(p) for p in read_input(path).problems] == [f"line 0: {path} holds no requests"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = {
    "custom_id": st.one_of(st.text(max_size=6), st.integers(), st.none()),
    "kind": st.one_of(st.sampled_from(["chat", "embedding", "rerank", "telepathy"]), _JSON),
    "messages": st.one_of(
        st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": _JSON}), max_size=2),
        _JSON,
    ),
    "input": _JSON,
    "max_tokens": _JSON,
    "response_schema": _JSON,
    "url": st.one_of(st.sampled_from(["/v1/chat/completions", "/v1/embeddings", "/v1/x"]), _JSON),
    "body": _JSON,
    "method": st.sampled_from(["POST", "GET"]),
}
_OBJECTS = st.fixed_dictionaries({}, optional=_FIELDS).map(msgspec.json.encode)


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    """A JSON line, then perhaps a stray byte, a BOM, a cut or endless brackets."""
    line = draw(_OBJECTS)
    damage = draw(st.sampled_from(["none", "byte", "bom", "cut", "nest", "raw"]))
    if damage == "byte":
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\\"])) + line[at:]
    elif damage == "bom":
        line = b"\xef\xbb\xbf" + line
    elif damage == "cut":
        line = line[: draw(st.integers(0, len(line)))]
    elif damage == "nest":
        depth = draw(st.integers(60, 5000))
        line = b'{"custom_id": "n", "x": ' + b"[" * depth + b"]" * depth + b"}"
    elif damage == "raw":
        line = draw(st.binary(max_size=40))
    return line.replace(b"\n", b" ").replace(b"\r", b" ")


@given(st.lists(_damaged(), min_size=1, max_size=8))
def test_any_line_becomes_a_request_or_a_numbered_problem(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))

        parsed = read_input(path)

    written = [n for n, line in enumerate(lines, start=1) if line.strip()]
    numbered = sorted([*parsed.lines, *(p.line for p in parsed.problems if p.line)])
    assert numbered == (written if written else [])
    for item in parsed.items:
        assert check_item(item) == item
