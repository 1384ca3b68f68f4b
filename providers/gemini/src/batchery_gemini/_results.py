"""Reading batch results, from a results-file line or an inline response, joined by key.

A results-file line carries the request's `key`; an inline response carries the `metadata` its
request was sent with, whose `"key"` entry is our custom_id. Results are joined on that key
only, never on position: the docs say both come back in input order, but a reporter of
googleapis/python-genai#1909 saw responses under the wrong request, so an entry whose key cannot
be read is reported as a `MalformedLine` and its request is left to the core as missing. A key
seen twice is reported the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import msgspec
from batchery.model import LlmResult, Mode
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._errors import classify
from ._translate import PROVIDER, response_result
from ._wire import ResponseView, ResultEntry

__all__ = ["KEY_FIELD", "Joiner", "entry_result"]

KEY_FIELD = "key"
"""The metadata entry an inline request carries its custom_id in."""

_ENTRY = msgspec.json.Decoder(ResultEntry)
_LEADING_KEY = re.compile(rb'\A\s*\{\s*"key"\s*:\s*("(?:[^"\\]|\\.)*")')
_RESPONSE = msgspec.json.Decoder(ResponseView)


class _KeyOnly(msgspec.Struct, frozen=True):
    key: str | None = None
    metadata: dict[str, object] | None = None


_KEY_ONLY = msgspec.json.Decoder(_KeyOnly)


def _key_of(entry: ResultEntry | _KeyOnly) -> str | None:
    if isinstance(entry.key, str) and entry.key:
        return entry.key
    value = (entry.metadata or {}).get(KEY_FIELD)
    return value if isinstance(value, str) and value else None


def _recover_key(data: bytes) -> str | None:
    try:
        return _key_of(_KEY_ONLY.decode(data))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _leading_key(data: bytes) -> str | None:
    """The key of a line that is not valid JSON, when the line still starts with it."""
    match = _LEADING_KEY.match(data)
    if match is None:
        return None
    try:
        key = msgspec.json.decode(match.group(1), type=str)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return key or None


def _unreadable(data: bytes, number: int, source: str, error: Exception) -> MalformedLine:
    if isinstance(error, msgspec.ValidationError):
        if not data.lstrip().startswith(b"{"):
            return MalformedLine(line=number, reason=f"{source}: not a JSON object")
        return MalformedLine(
            line=number, reason=f"{source}: unexpected entry shape", custom_id=_recover_key(data)
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return MalformedLine(line=number, reason=f"{source}: invalid UTF-8")
    reason = "truncated entry" if "truncated" in str(error) else "invalid JSON"
    return MalformedLine(line=number, reason=f"{source}: {reason}", custom_id=_leading_key(data))


def entry_result(
    data: bytes,
    number: int,
    *,
    source: str,
    model: str | None,
    secret: Secret | None,
) -> CollectedLine:
    """The result one entry holds, or a `MalformedLine` saying why it holds none."""
    try:
        entry = _ENTRY.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return _unreadable(data, number, source, exc)
    key = _key_of(entry)
    if key is None:
        return MalformedLine(line=number, reason=f"{source}: no key to join on")
    status = entry.error or entry.status
    if bytes(entry.response).strip() == b"null":
        if status is None:
            reason = f"{source}: neither response nor error"
            return MalformedLine(line=number, reason=reason, custom_id=key)
        info = classify(None, status, secret=secret)
        return LlmResult.failure(key, info, provider=PROVIDER, mode=Mode.BATCH)
    result: LlmResult | None
    try:
        result = response_result(key, _RESPONSE.decode(entry.response), Mode.BATCH, model)
    except (msgspec.DecodeError, UnicodeDecodeError):
        result = None
    if result is None:
        return MalformedLine(line=number, reason=f"{source}: unreadable response", custom_id=key)
    return result


class Joiner:
    """Keeps the keys already delivered, so a repeated key is reported rather than kept twice.

    A key the batch never held is left to the core, which knows the chunk's requests.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.malformed = 0

    @property
    def delivered(self) -> int:
        return len(self._seen)

    def admit(self, item: CollectedLine, number: int, source: str) -> CollectedLine:
        """`item` itself, or a `MalformedLine` when its key was delivered already."""
        if isinstance(item, LlmResult):
            if item.custom_id in self._seen:
                item = MalformedLine(
                    line=number, reason=f"{source}: duplicate key", custom_id=item.custom_id
                )
            else:
                self._seen.add(item.custom_id)
        if isinstance(item, MalformedLine):
            self.malformed += 1
        return item

    def inline(
        self,
        entries: Iterable[msgspec.Raw],
        *,
        model: str | None,
        secret: Secret | None,
    ) -> Iterator[CollectedLine]:
        """Every inline response, numbered from 1 in the order the batch lists them."""
        for number, raw in enumerate(entries, start=1):
            data = bytes(raw)
            item = entry_result(data, number, source="inline", model=model, secret=secret)
            yield self.admit(item, number, "inline")
