"""Read a workload file: OpenAI batch lines or Batchery's neutral lines, one request per line.

A line whose custom_id cannot be known (not JSON, not an object, no usable id) or repeats an
earlier id stops the whole run before anything is sent, because its result could not be told
apart. Any other problem becomes an explicit error result for that custom_id, and the rest runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from batchery.model import LlmRequest, Message, RejectedRequest, RequestKind
from batchery.service.validation import check_custom_id

__all__ = ["InputFile", "InputProblem", "read_input"]

_URL_KINDS = {
    "/v1/chat/completions": RequestKind.CHAT,
    "/v1/embeddings": RequestKind.EMBEDDING,
    "/v1/rerank": RequestKind.RERANK,
}


class InputProblem(msgspec.Struct, frozen=True):
    line: int
    rule: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.rule}"


class InputFile(msgspec.Struct):
    """A parsed workload: the items to run, the problems that stop it, and its fingerprint."""

    items: list[LlmRequest | RejectedRequest]
    problems: list[InputProblem]
    digest: str


def read_input(path: Path) -> InputFile:
    """Parse `path` line by line; blank lines are skipped."""
    items: list[LlmRequest | RejectedRequest] = []
    problems: list[InputProblem] = []
    first_line: dict[str, int] = {}
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            digest.update(raw)
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
    if not items and not problems:
        problems.append(InputProblem(0, f"{path} holds no requests"))
    return InputFile(items, problems, digest.hexdigest())


def _parse_line(raw: bytes, number: int) -> LlmRequest | RejectedRequest | InputProblem:
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return InputProblem(number, f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return InputProblem(number, "each line must be a JSON object")
    custom_id = data.get("custom_id")
    rule = check_custom_id(custom_id)
    if rule is not None:
        return InputProblem(number, rule)
    assert isinstance(custom_id, str)
    try:
        request = _from_openai(data) if "body" in data or "url" in data else _from_neutral(data)
    except (msgspec.ValidationError, ValueError) as exc:
        return RejectedRequest(custom_id, f"line {number} (custom_id {custom_id!r}): {exc}")
    return request


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
    kind = _URL_KINDS.get(url) if isinstance(url, str) else None
    if kind is None:
        raise ValueError(f"url {url!r} is not one of {', '.join(_URL_KINDS)}")
    body = data.get("body")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    fields: dict[str, Any] = {
        "custom_id": data["custom_id"],
        "kind": kind,
        "model": body.get("model"),
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
    return Message(raw["role"], content)


def _text_parts(parts: list[Any]) -> Iterator[str]:
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise ValueError("only text content parts are supported")
        yield str(part.get("text", ""))


def _schema(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = response_format.get("json_schema", {}).get("schema")
    return schema if isinstance(schema, dict) else None
