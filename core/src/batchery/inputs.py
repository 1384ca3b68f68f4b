"""Read a workload file: OpenAI batch lines or Batchery's neutral lines, one request per line.

Every line that cannot become a request is a problem that stops the whole run before anything
is sent, named by its line number (and its custom_id when the line has a usable one): bytes
that are not UTF-8, text that is not JSON or is nested without end, a missing or repeated id,
an endpoint or kind Batchery does not run, a field of the wrong type. A UTF-8 byte order mark
at the start of the file is accepted, as editors on Windows write one.
"""

from __future__ import annotations

import codecs
import hashlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from batchery.model import LlmRequest, Message, RequestKind
from batchery.service.validation import MAX_NESTING, check_custom_id, nesting_problem

__all__ = ["InputFile", "InputProblem", "parse_input", "read_input"]

_JSON = msgspec.json.Decoder()
_URL_KINDS = {
    "/v1/chat/completions": RequestKind.CHAT,
    "/v1/embeddings": RequestKind.EMBEDDING,
    "/v1/rerank": RequestKind.RERANK,
}


class InputProblem(msgspec.Struct, frozen=True):
    """Why one line cannot run; `line` 0 speaks of the file as a whole."""

    line: int
    rule: str
    custom_id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.custom_id is not None:
            where += f" (custom_id {self.custom_id!r})"
        return f"{where}: {self.rule}"


class InputFile(msgspec.Struct):
    """A parsed workload: the requests, the line each came from, the problems, the fingerprint."""

    items: list[LlmRequest]
    lines: list[int]
    problems: list[InputProblem]
    digest: str

    def line_of(self, position: int) -> int:
        """The file line of the request at 1-based `position` in `items`."""
        return self.lines[position - 1]


def read_input(path: Path) -> InputFile:
    """Parse `path` line by line; blank lines are skipped."""
    with path.open("rb") as handle:
        return parse_input(handle, str(path))


def parse_input(raw_lines: Iterable[bytes], source: str) -> InputFile:
    """Parse a workload's lines (a file's, or a request body's split at newlines), each with
    its newline; `source` names it when it holds no request at all."""
    items: list[LlmRequest] = []
    lines: list[int] = []
    problems: list[InputProblem] = []
    first_line: dict[str, int] = {}
    digest = hashlib.sha256()
    for number, raw in enumerate(raw_lines, start=1):
        digest.update(raw)
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if not raw.strip():
            continue
        parsed = _parse_line(raw, number)
        if isinstance(parsed, InputProblem):
            problems.append(parsed)
            continue
        earlier = first_line.get(parsed.custom_id)
        if earlier is not None:
            problems.append(
                InputProblem(
                    number, f"custom_id {parsed.custom_id!r} is a duplicate of line {earlier}"
                )
            )
            continue
        first_line[parsed.custom_id] = number
        items.append(parsed)
        lines.append(number)
    if not items and not problems:
        problems.append(InputProblem(0, f"{source} holds no requests"))
    return InputFile(items, lines, problems, digest.hexdigest())


def _parse_line(raw: bytes, number: int) -> LlmRequest | InputProblem:
    data, problem = _decoded(raw)
    if problem is not None:
        return InputProblem(number, problem)
    if not isinstance(data, dict):
        return InputProblem(number, "each line must be a JSON object")
    custom_id = data.get("custom_id")
    rule = check_custom_id(custom_id)
    if rule is not None:
        return InputProblem(number, rule)
    assert isinstance(custom_id, str)
    try:
        return _from_openai(data) if "body" in data or "url" in data else _from_neutral(data)
    except (msgspec.ValidationError, ValueError) as exc:
        return InputProblem(number, str(exc), custom_id)


def _decoded(raw: bytes) -> tuple[Any, str | None]:
    """The line's JSON value, or why it has none; never raises."""
    if raw.startswith(codecs.BOM_UTF8):
        return None, "starts with a UTF-8 byte order mark (BOM); only the file's start may"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
    try:
        data = _JSON.decode(raw)
    except msgspec.DecodeError as exc:
        return None, f"not valid JSON ({exc})"
    except RecursionError:
        return None, f"is nested more than {MAX_NESTING} levels deep"
    if raw.count(b"{") + raw.count(b"[") <= MAX_NESTING:
        return data, None
    return data, nesting_problem(data)


def _from_neutral(data: dict[str, Any]) -> LlmRequest:
    kind = data.get("kind", RequestKind.CHAT)
    if kind not in RequestKind.__members__.values():
        kinds = ", ".join(k.value for k in RequestKind)
        raise ValueError(f"kind {kind!r} is not one of {kinds}")
    return msgspec.convert(data, LlmRequest)


def _from_openai(data: dict[str, Any]) -> LlmRequest:
    method = data.get("method", "POST")
    if method != "POST":
        raise ValueError(f"method must be POST, not {method!r}")
    url = data.get("url")
    if url is None:
        raise ValueError(
            'has no "url": a line in OpenAI\'s batch format names its endpoint, e.g. '
            '"url": "/v1/chat/completions"'
        )
    kind = _URL_KINDS.get(url) if isinstance(url, str) else None
    if kind is None:
        raise ValueError(
            f"url {url!r} is not an endpoint Batchery runs (one of {', '.join(_URL_KINDS)})"
        )
    body = data.get("body")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    fields: dict[str, Any] = {
        "custom_id": data["custom_id"],
        "kind": kind,
        "model": _shared(body.get("model")),
    }
    if kind is RequestKind.CHAT:
        fields["messages"] = [_message(m) for m in _list(body, "messages")]
        fields["max_tokens"] = body.get("max_completion_tokens", body.get("max_tokens"))
        fields["temperature"] = body.get("temperature")
        fields["response_schema"] = _schema(body.get("response_format"))
    elif kind is RequestKind.EMBEDDING:
        text = body.get("input")
        if isinstance(text, list) and len(text) == 1:
            text = text[0]
        if not isinstance(text, str):
            raise ValueError("input must be one string (one embedding per request)")
        fields["input"] = text
    else:
        fields["query"] = body.get("query")
        fields["documents"] = body.get("documents")
    return msgspec.convert({k: v for k, v in fields.items() if v is not None}, LlmRequest)


def _shared(value: Any) -> Any:
    """One string object for a value every line repeats (a model name), not one per line."""
    return sys.intern(value) if isinstance(value, str) else value


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise ValueError(f"body.{key} must be a list")
    return value


def _message(raw: Any) -> Message:
    if not isinstance(raw, dict) or not isinstance(raw.get("role"), str):
        raise ValueError("each message needs a role and content")
    content = raw.get("content")
    if isinstance(content, list):
        content = "".join(_text_parts(content))
    if not isinstance(content, str):
        raise ValueError(f"message content of role {raw['role']!r} must be text")
    return Message(sys.intern(raw["role"]), content)


def _text_parts(parts: list[Any]) -> Iterator[str]:
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise ValueError("only text content parts are supported")
        text = part.get("text", "")
        if not isinstance(text, str):
            raise ValueError("a text content part's text must be a string")
        yield text


def _schema(response_format: Any) -> dict[str, Any] | None:
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise ValueError("body.response_format must be a JSON object")
    if response_format.get("type") != "json_schema":
        return None
    wrapper = response_format.get("json_schema")
    schema = wrapper.get("schema") if isinstance(wrapper, dict) else None
    if not isinstance(schema, dict):
        raise ValueError("response_format json_schema needs a json_schema.schema object")
    return schema
