"""The canary check: the provider's key must not reach logs, exceptions, results or reprs."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from structlog.testing import capture_logs

from batchery.logging import redact_event, redact_text
from batchery.spi import Provider
from batchery.testing._kit import Kit, expect, new_tag
from batchery.testing._registry import check

__all__: list[str] = []

_NOISY_FAULTS = (
    "http_429=0.5",
    "retry_after=0.01",
    "http_500=0.3",
    "line_error=0.3",
    "malformed=0.3",
    "unknown_id=0.3",
)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(redact_text(text))


@contextmanager
def _stdlib_records() -> Iterator[_Records]:
    """Every standard-library record at DEBUG and up, redacted as batchery's handler would."""
    root = logging.getLogger()
    handler = _Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class _Seen:
    """Texts the key must not appear in, each with where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: object) -> None:
        if isinstance(value, BaseException):
            self.texts.append((where, "".join(traceback.format_exception(value))))
            self.texts.append((where, repr(value.args)))
        self.texts.append((where, repr(value)))
        self.texts.append((where, str(value)))

    async def attempt(self, where: str, call: Awaitable[object]) -> None:
        """Await `call` and keep its result or its exception."""
        try:
            self.add(where, await call)
        except Exception as exc:
            self.add(where, exc)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _exercise(kit: Kit, seen: _Seen) -> None:
    faults = ",".join(f for f in _NOISY_FAULTS if f.partition("=")[0] in kit.faults)
    async with kit.session(faults) as s:
        provider = s.provider
        seen.add("repr(provider)", provider)
        base_path = urlsplit(s.emulator.base_url).path
        if s.info.batch:
            sent = kit.requests(provider, 8)
            state = await provider.submit_batch(sent, tag=new_tag())
            seen.add("submit_batch", state)
            final = await kit.wait(provider, state.batch_id)
            seen.add("get_batch", final)
            await seen.attempt("collect", kit.collect(provider, final))
            await seen.attempt("get_batch(unknown)", provider.get_batch(state.batch_id + "0"))
            await seen.attempt("cancel_batch(unknown)", provider.cancel_batch(state.batch_id + "0"))
            await seen.attempt(
                "find_batch", provider.find_batch(new_tag(), created_after=0.0, request_count=8)
            )
        if s.info.realtime:
            for request in kit.requests(provider, 6, prefix="rt"):
                await seen.attempt("call", provider.call(request))
    if s.info.batch and "create_lost" in kit.faults:
        async with kit.session("create_lost") as lost:
            await seen.attempt(
                "submit_batch(create lost)",
                lost.provider.submit_batch(kit.requests(lost.provider, 2), tag=new_tag()),
            )
    async with kit.provider_at(f"http://127.0.0.1:{_closed_port()}{base_path}") as (_, gone):
        await _unreachable(kit, gone, seen)


async def _unreachable(kit: Kit, provider: Provider, seen: _Seen) -> None:
    request = kit.requests(provider, 1)[0]
    if provider.info.batch:
        await seen.attempt("submit_batch(unreachable)", provider.submit_batch([request], tag="t"))
    if provider.info.realtime:
        await seen.attempt("call(unreachable)", provider.call(request))


@check("secrets")
async def secrets_never_leak(kit: Kit) -> None:
    """The API key (a random canary no redaction pattern knows) appears in no log event after
    batchery's redaction, no standard-library log record, no exception message, traceback or
    repr, and no result or batch state.

    The provider is driven through success, result-line faults, realtime 429 and 500, unknown
    batch ids, a lost create and an unreachable base URL; the key is looked for as is,
    URL-encoded, and by its first 16 characters.

    Troubleshooting: keep the key in a `batchery.secrets.Secret` and reveal it only for the
    one header that carries it; never put it in a URL, an error message, a log field or a
    repr; build messages from the method, path and the provider's error code, not from the
    request or its headers.
    """
    seen = _Seen()
    with capture_logs() as events, _stdlib_records() as records:
        await _exercise(kit, seen)
    for event in events:
        seen.texts.append(("log event", repr(redact_event(None, "", dict(event)))))
    seen.texts.extend(("standard-library log", line) for line in records.lines)
    forms = {kit.key, quote(kit.key, safe=""), kit.key[:16]}
    leaks = sorted({where for where, text in seen.texts if any(form in text for form in forms)})
    expect(not leaks, f"the API key appears in: {', '.join(leaks)}")
