"""What every provider package repeats, written once: options over the environment, the module's
container and emulator, a spooled upload, and a realtime call sent once.

A provider supplies its own options class, session and provider class; these helpers only
wire them the way every provider does, so the rules (a key is always a `Secret`, options given
in code win over the environment, an upload never sits in memory) cannot drift apart.
"""

from __future__ import annotations

import pkgutil
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from typing import IO, Any, ClassVar, Generic, Protocol, TypeVar, cast

import aiohttp
import msgspec
from dependency_injector import containers, providers

from batchery import http
from batchery.http import HttpPolicy, ProviderHttp, Reply
from batchery.model import ErrorInfo, LlmRequest, LlmResult, Mode
from batchery.modules import Module
from batchery.secrets import Secret
from batchery.spi import Emulator, EmulatorOptions, ProviderError, ProviderInfo

__all__ = [
    "KeyedOptions",
    "ProviderBase",
    "ProviderModuleBase",
    "call_once",
    "emulator_at",
    "key_redactor",
    "options_over",
    "options_reader",
    "provider_container",
    "session_resource",
    "spool",
    "status_category",
]

_T = TypeVar("_T")


class KeyedOptions(Protocol):
    """A provider's options: a msgspec Struct with an optional `api_key`."""

    @property
    def api_key(self) -> Secret | None: ...


_O = TypeVar("_O", bound=KeyedOptions)
_P = TypeVar("_P", bound=HttpPolicy)


def options_over(base: _O, given: Mapping[str, object], *, provider: str) -> _O:
    """`base` (the environment's options) with `given` on top; strings from settings convert.

    An `api_key` given as a non-empty string becomes a `Secret`; a missing or empty one keeps
    the environment's key. A value that does not convert is a ValueError naming the provider.
    """
    fields = msgspec.structs.asdict(cast(msgspec.Struct, base))
    changes = dict(given)
    key = changes.pop("api_key", None)
    fields.pop("api_key")
    fields.update(changes)
    try:
        options: _O = msgspec.convert(fields, type(base), strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{provider} provider options: {exc}") from None
    api_key = Secret(key) if isinstance(key, str) and key else key
    if not isinstance(api_key, Secret):
        api_key = base.api_key
    replaced: _O = msgspec.structs.replace(options, api_key=api_key)  # type: ignore[type-var]
    return replaced


class ProviderBase(Generic[_O]):
    """What every provider class holds alike: its `INFO`, its options, and a repr of them.

    The options' own repr hides the key, so the provider's can show them whole.
    """

    INFO: ClassVar[ProviderInfo]

    __slots__ = ("_options",)

    def __init__(self, options: _O) -> None:
        self._options = options

    def __repr__(self) -> str:
        return f"{type(self).__name__}(options={self._options!r})"

    @property
    def info(self) -> ProviderInfo:
        return self.INFO


class ProviderModuleBase(Module):
    """A provider's module: it exports its `provider` and declares its `INFO` (see
    `batchery.spi.ProviderModule`); a subclass adds its `Container` and `emulator`."""

    exports = ("provider",)
    INFO: ClassVar[ProviderInfo]


def options_reader(
    from_env: Callable[[], _O], *, provider: str
) -> Callable[[Mapping[str, object]], _O]:
    """A provider's `options_from`: the environment's options with what it is given on top."""

    def options_from(given: Mapping[str, object]) -> _O:
        """The environment's options with `given` on top (strings from settings files convert)."""
        return options_over(from_env(), given, provider=provider)

    return options_from


async def session_resource(
    policy: HttpPolicy, *, user_agent: str
) -> AsyncIterator[aiohttp.ClientSession]:
    """One account's session as an async-generator resource: yielded open, closed on shutdown."""
    async with http.create_session(policy, user_agent=user_agent) as session:
        yield session


def provider_container(
    settings_from: Callable[[Mapping[str, object]], _P],
    provider_of: Callable[[_P, aiohttp.ClientSession], Any],
    *,
    user_agent: str,
) -> type[containers.DeclarativeContainer]:
    """The container of a provider module: `options` in, one session and one provider out.

    `settings` holds the options built from what `for_root` was given; the session is a
    resource, opened at boot and closed at shutdown; `provider` is what the module exports.
    """

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(settings_from, options)
        session = providers.Resource(session_resource, settings, user_agent=user_agent)
        provider = providers.Singleton(provider_of, settings, session)

    return Container


def emulator_at(reference: str) -> staticmethod[[EmulatorOptions], Emulator]:
    """A module's `emulator`: the emulator class at `reference` ("package.module:Class"),
    imported only when an emulator is made, so loading a provider never loads its emulator."""

    def emulator(options: EmulatorOptions) -> Emulator:
        made: Emulator = pkgutil.resolve_name(reference)(options)
        return made

    return staticmethod(emulator)


def key_redactor(shapes: re.Pattern[str]) -> Callable[[str, Secret | None], str]:
    """A provider's `redact(text, secret)`: `text` with the configured key, and anything shaped
    like one of the provider's keys or tokens (`shapes`), replaced by `[redacted]`."""

    def redact(text: str, secret: Secret | None) -> str:
        if secret is not None:
            text = text.replace(secret.reveal(), "[redacted]")
        return shapes.sub("[redacted]", text)

    return redact


def status_category(status: int | None, table: Mapping[int, tuple[str, bool]]) -> tuple[str, bool]:
    """The neutral (code, retryable) of an HTTP status: `table`'s own entry, else by its class
    (any 5xx a retryable `server_error`, any 4xx a final `invalid_request`); without a status,
    or with one below 400, a final `provider_error`."""
    if status is None:
        return "provider_error", False
    if status in table:
        return table[status]
    if status >= 500:
        return "server_error", True
    if status >= 400:
        return "invalid_request", False
    return "provider_error", False


def _refused(reply: Reply) -> bool:
    return reply.status >= 300


async def call_once(
    http: ProviderHttp[Any],
    path: str,
    body: bytes,
    request: LlmRequest,
    *,
    provider: str,
    read: Callable[[bytes], LlmResult | None],
    refused: Callable[[Reply], bool] = _refused,
    seen: Callable[[Reply], None] | None = None,
    unreadable: str | None = None,
) -> LlmResult:
    """One realtime call, POSTed once; every failure comes back as a classified failed result.

    A transport failure keeps the `ProviderError`'s classification; a reply `refused` (by
    default any status from 300) is classified by `http.classify`; an answer `read` cannot
    make a result of is a retryable `bad_response` ("<title> returned an unreadable chat
    response", with `unreadable` for the last words if given). `seen` hears every reply first
    (for its rate-limit headers, say).
    """

    def failed(error: ErrorInfo) -> LlmResult:
        return LlmResult.failure(request.custom_id, error, provider=provider, mode=Mode.REALTIME)

    try:
        reply = await http.send("POST", path, json=body)
    except ProviderError as exc:
        return failed(ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable))
    if seen is not None:
        seen(reply)
    if refused(reply):
        return failed(http.classify(reply))
    try:
        result = read(reply.body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        result = None
    if result is None:
        what = unreadable or f"{request.kind.value} response"
        message = f"{http.title} returned an unreadable {what}"
        return failed(
            ErrorInfo(code="bad_response", message=message, retryable=True, status=reply.status)
        )
    return result


def spool(write: Callable[[IO[bytes]], _T], *, prefix: str = "batchery-") -> tuple[IO[bytes], _T]:
    """An anonymous temporary file `write` fills, rewound, with what `write` returned.

    Uploads are written here first so that a 100,000-request batch never sits in memory; the
    file is closed if `write` fails, and the caller closes it otherwise.
    """
    file = tempfile.TemporaryFile(prefix=prefix)  # noqa: SIM115
    try:
        written = write(file)
        file.flush()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, written
