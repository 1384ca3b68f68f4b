"""The harness every check runs in: the provider's own emulator over real HTTP, an application
booted the way core boots it, probe requests the provider accepts, polling, and a canary key.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

import msgspec

from batchery.model import BatchState, LlmRequest, LlmResult, Message, Mode, RequestKind
from batchery.modules import Application, Module
from batchery.service.validation import check_request
from batchery.spi import (
    BatchNotFoundError,
    Emulator,
    EmulatorOptions,
    MalformedLine,
    Provider,
    ProviderError,
    ProviderInfo,
)
from batchery.testing._convention import check_module, make_emulator
from batchery.testing._proxy import CountingProxy

__all__ = [
    "Collected",
    "ConformanceFailure",
    "Kit",
    "KitConfig",
    "RequestFactory",
    "Session",
    "Unsupported",
    "expect",
    "expect_all_ok",
    "expect_subset",
    "new_canary",
    "new_tag",
    "probe_request",
    "run_batch",
]

_KIND_PREFERENCE = (
    RequestKind.CHAT,
    RequestKind.EMBEDDING,
    RequestKind.CONTEXTUAL_EMBEDDING,
    RequestKind.RERANK,
)
_POLL_S = 0.01


class ConformanceFailure(AssertionError):
    """The provider broke the contract; the message says what was seen."""


class Unsupported(Exception):
    """The check cannot run against this provider as configured; it is reported as skipped."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceFailure(message)


RequestFactory = Callable[[ProviderInfo, str, int, int], LlmRequest]
"""`(info, custom_id, index, padding) -> request`: one probe request the provider accepts."""


@dataclass(frozen=True, kw_only=True)
class KitConfig:
    """What the kit needs to know about the provider under test; only `module` is required.

    `module_options` go to `for_root` next to `base_url` and `api_key`; `capabilities` override
    detection by name; `kind` and `model` shape the probe requests (default: the first of chat,
    embedding, contextual embedding and rerank the provider serves, with its default model);
    `time_scale` speeds the emulator's clock for every check but those that pick their own.
    """

    module: type[Module]
    module_options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    capabilities: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    time_scale: float = 1000.0
    kind: RequestKind | None = None
    model: str | None = None
    request_factory: RequestFactory | None = None
    seed: int = 7
    timeout_s: float = 20.0

    def __post_init__(self) -> None:
        check_module(self.module)
        reserved = {"base_url", "api_key"} & set(self.module_options)
        if reserved:
            raise ValueError(f"module_options must not set {', '.join(sorted(reserved))}")


def new_canary() -> str:
    """A fresh key no redaction pattern knows, so only the provider's own care can hide it."""
    return f"bcy{secrets.token_hex(20)}"


def probe_request(
    info: ProviderInfo,
    custom_id: str,
    index: int,
    padding: int = 0,
    *,
    kind: RequestKind | None = None,
    model: str | None = None,
) -> LlmRequest:
    """A small valid request of `kind` with `padding` extra characters of text."""
    chosen = kind or next((k for k in _KIND_PREFERENCE if k in info.kinds), None)
    if chosen is None:
        raise Unsupported(f"{info.name} declares no request kinds")
    text = f"Conformance probe {index}." + (" pad" * (padding // 4 + 1) if padding else "")
    request = LlmRequest(
        custom_id=custom_id, kind=chosen, model=model or info.default_models.get(chosen)
    )
    if chosen is RequestKind.CHAT:
        return msgspec.structs.replace(request, messages=(Message("user", text),), max_tokens=16)
    if chosen is RequestKind.EMBEDDING:
        return msgspec.structs.replace(request, input=text)
    if chosen is RequestKind.CONTEXTUAL_EMBEDDING:
        return msgspec.structs.replace(request, chunks=(text, f"Second chunk {index}."))
    documents = (text, f"Other document {index}.")
    return msgspec.structs.replace(request, query=f"probe {index}", documents=documents)


@dataclass(slots=True)
class Session:
    """One emulator and one application wired to it (through `proxy` when one was asked for)."""

    emulator: Emulator
    app: Application
    provider: Provider
    proxy: CountingProxy | None = None

    @property
    def info(self) -> ProviderInfo:
        return self.provider.info


@dataclass(slots=True)
class Collected:
    """Everything one `collect` yielded, in order."""

    results: list[LlmResult] = field(default_factory=list)
    malformed: list[MalformedLine] = field(default_factory=list)

    @property
    def ok(self) -> list[LlmResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[LlmResult]:
        return [r for r in self.results if not r.ok]

    def ids(self) -> Counter[str]:
        return Counter(r.custom_id for r in self.results)

    def repeated(self) -> list[str]:
        return sorted(cid for cid, n in self.ids().items() if n > 1)


class Kit:
    """Runs scenarios for one provider module; a fresh canary key per kit.

    `faults` are the fault names the emulator accepts (see `capabilities.emulator_faults`).
    """

    def __init__(self, config: KitConfig, faults: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.faults = faults
        self.key = new_canary()

    @property
    def module(self) -> type[Module]:
        return self.config.module

    def emulator_options(
        self, faults: str = "", time_scale: float | None = None
    ) -> EmulatorOptions:
        scale = time_scale if time_scale is not None else self.config.time_scale
        return EmulatorOptions(time_scale=scale, faults=faults, seed=self.config.seed)

    @asynccontextmanager
    async def session(
        self, faults: str = "", *, time_scale: float | None = None, proxied: bool = False
    ) -> AsyncIterator[Session]:
        """A started emulator with `faults` and an application pointed at it (or at a proxy)."""
        emulator = make_emulator(self.module, self.emulator_options(faults, time_scale))
        await emulator.start()
        proxy: CountingProxy | None = None
        try:
            base_url = emulator.base_url
            if proxied:
                root = _root_of(base_url)
                proxy = CountingProxy(root)
                await proxy.start()
                base_url = proxy.root_url + base_url[len(root) :]
            async with self.provider_at(base_url) as (app, provider):
                yield Session(emulator, app, provider, proxy)
        finally:
            if proxy is not None:
                await proxy.close()
            await emulator.close()

    @asynccontextmanager
    async def provider_at(self, base_url: str) -> AsyncIterator[tuple[Application, Provider]]:
        """The application booted as core boots it, with the canary key, and its provider."""
        definition = self.module.for_root(
            base_url=base_url, api_key=self.key, **dict(self.config.module_options)
        )
        app = await Application.create(definition)
        try:
            provider = await app.get(f"{self.module.name}.provider")
            expect(
                isinstance(provider, Provider),
                f"'{self.module.name}.provider' is a {type(provider).__name__}, which lacks "
                "methods of batchery.spi.Provider",
            )
            yield app, provider
        finally:
            await app.close()

    def request(
        self, info: ProviderInfo, custom_id: str, index: int, padding: int = 0
    ) -> LlmRequest:
        factory = self.config.request_factory
        if factory is not None:
            return factory(info, custom_id, index, padding)
        return probe_request(
            info, custom_id, index, padding, kind=self.config.kind, model=self.config.model
        )

    def requests(
        self,
        provider: Provider,
        count: int,
        *,
        prefix: str = "r",
        padding: int | Sequence[int] = 0,
    ) -> list[LlmRequest]:
        """`count` probe requests with ids `{prefix}-{i}`, each accepted by the provider."""
        made = []
        for i in range(count):
            pad = padding if isinstance(padding, int) else padding[i % len(padding)]
            request = self.request(provider.info, f"{prefix}-{i}", i, pad)
            problem = check_request(request, provider)
            if problem is not None:
                raise ConformanceFailure(
                    f"the kit's {request.kind.value} probe request (model {request.model!r}) is "
                    f"refused before sending: {problem}. "
                    "Set `kind`, `model` or `module_options` on your test class (or pass a "
                    "`request_factory`) so the kit sends requests your provider accepts."
                )
            made.append(request)
        return made

    async def wait(
        self,
        provider: Provider,
        batch_id: str,
        until: Callable[[BatchState], bool] = lambda state: state.status.terminal,
        *,
        what: str = "a terminal state",
        timeout_s: float | None = None,
    ) -> BatchState:
        """Poll `get_batch` until `until` holds; a 404 (transient after a create) is waited out."""
        limit = timeout_s if timeout_s is not None else self.config.timeout_s
        deadline = time.monotonic() + limit
        state: BatchState | None = None
        while True:
            try:
                state = await provider.get_batch(batch_id)
            except BatchNotFoundError:
                state = None
            if state is not None and until(state):
                return state
            if time.monotonic() > deadline:
                seen = state.status.value if state is not None else "not found"
                raise ConformanceFailure(
                    f"batch {batch_id} did not reach {what} within {limit:g} s (last: {seen}); "
                    "check that the emulator's clock honours EmulatorOptions.time_scale"
                )
            await asyncio.sleep(_POLL_S)

    async def collect(self, provider: Provider, state: BatchState) -> Collected:
        """Everything `collect(state)` yields; any exception is a failure (collect never aborts)."""
        out = Collected()
        try:
            async for line in provider.collect(state):
                if isinstance(line, MalformedLine):
                    out.malformed.append(line)
                elif isinstance(line, LlmResult):
                    out.results.append(line)
                else:
                    raise ConformanceFailure(
                        f"collect yielded {type(line).__name__}; only LlmResult and "
                        "MalformedLine are allowed"
                    )
        except ProviderError as exc:
            raise ConformanceFailure(
                f"collect on a {state.status.value} batch raised {type(exc).__name__}: {exc}"
            ) from exc
        return out

    def check_result(self, info: ProviderInfo, result: LlmResult, mode: Mode) -> None:
        """A result names this provider and its mode, and holds an answer or an error."""
        expect(
            result.provider == info.name,
            f"result {result.custom_id!r} says provider {result.provider!r}, not {info.name!r}",
        )
        expect(
            result.mode is mode,
            f"result {result.custom_id!r} says mode {result.mode.value}, not {mode.value}",
        )
        if result.ok:
            answered = (result.text, result.vector, result.vectors, result.scores)
            expect(
                any(part is not None for part in answered),
                f"ok result {result.custom_id!r} carries no text, vector(s) or scores",
            )
            expect(result.error is None, f"ok result {result.custom_id!r} carries an error")
        else:
            expect(
                result.error is not None and bool(result.error.code),
                f"failed result {result.custom_id!r} has no error code",
            )


def _root_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}"


def new_tag() -> str:
    """A tag shaped like core's submit keys."""
    return secrets.token_hex(16)


async def run_batch(
    kit: Kit, session: Session, requests: Sequence[LlmRequest], *, timeout_s: float | None = None
) -> tuple[BatchState, Collected]:
    """Submit `requests` as one batch, wait for a terminal state and collect it."""
    state = await session.provider.submit_batch(requests, tag=new_tag())
    final = await kit.wait(session.provider, state.batch_id, timeout_s=timeout_s)
    return final, await kit.collect(session.provider, final)


def expect_subset(collected: Collected, sent: Sequence[LlmRequest]) -> None:
    """Each result belongs to a sent request and none comes twice."""
    ids = {r.custom_id for r in sent}
    stray = sorted(set(collected.ids()) - ids)
    expect(not stray, f"collect yielded results for ids that were never sent: {stray[:5]}")
    repeated = collected.repeated()
    expect(not repeated, f"collect yielded these ids more than once: {repeated[:5]}")


def expect_all_ok(
    kit: Kit, info: ProviderInfo, collected: Collected, sent: Sequence[LlmRequest]
) -> None:
    """Every sent request came back exactly once, answered."""
    expect_subset(collected, sent)
    missing = sorted({r.custom_id for r in sent} - {r.custom_id for r in collected.ok})
    expect(not missing, f"these requests got no ok result: {missing[:5]}")
    for result in collected.results:
        kit.check_result(info, result, Mode.BATCH)
