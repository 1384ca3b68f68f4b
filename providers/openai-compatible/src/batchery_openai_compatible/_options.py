"""What one OpenAI-compatible server can do, as its owner configured it.

Nothing is assumed about such a server: which kinds it serves, whether it has the Batch API, its
limits, discount and models all come from the options, given to `for_root` by code or as strings
from a settings file (`[providers.openai-compatible]`). The key never sits in settings: it is
read from the variable `key_env` names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Final

import msgspec
from batchery.model import RequestKind
from batchery.secrets import Secret
from batchery.spi import ProviderInfo, ProviderLimits
from batchery_openai import OpenAIOptions

__all__ = [
    "DEFAULT_INFO",
    "DEFAULT_KEY_ENV",
    "PROVIDER",
    "CompatibleOptions",
    "openai_options",
    "options_from",
    "provider_info",
]

PROVIDER: Final = "openai-compatible"
TITLE: Final = "OpenAI-compatible server"
DEFAULT_KEY_ENV: Final = "OPENAI_COMPATIBLE_API_KEY"
SERVABLE: Final = frozenset({RequestKind.CHAT, RequestKind.EMBEDDING})
"""The kinds OpenAI's wire format carries; a server may serve fewer."""

_WHERE = (
    f"set base_url under [providers.{PROVIDER}] in the settings file, pass --base-url to "
    "batchery run, or give OpenAICompatibleModule.for_root(base_url=...)"
)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_WINDOW = re.compile(r"(\d+)([mhd])")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}

_Positive = Annotated[int, msgspec.Meta(ge=1)]
_Discount = Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)]


class CompatibleOptions(msgspec.Struct, frozen=True, kw_only=True):
    """One server's address, key and capabilities; the defaults are the cautious ones."""

    base_url: str
    api_key: Secret | None = None
    key_env: str = DEFAULT_KEY_ENV
    kinds: frozenset[RequestKind] = frozenset({RequestKind.CHAT})
    batch: bool = True
    max_requests_per_batch: _Positive = 50_000
    max_bytes_per_batch: _Positive = 100_000_000
    batch_discount: _Discount = 0.0
    completion_window: str = "24h"
    default_models: dict[RequestKind, str] = msgspec.field(default_factory=dict)


DEFAULT_INFO: Final = ProviderInfo(
    name=PROVIDER,
    title=TITLE,
    kinds=frozenset({RequestKind.CHAT}),
    limits=ProviderLimits(max_requests_per_batch=50_000, max_bytes_per_batch=100_000_000),
    batch_discount=0.0,
)
"""The cautious defaults, readable before any server is configured.

`key_env` is left out here because the variable is itself an option: a CLI check against a
fixed name would refuse a Together key in TOGETHER_API_KEY or a local server that needs none.
"""

_OPTIONS: Final = frozenset(
    {"api_key", "base_url", "key_env", "kinds", "batch", "max_requests_per_batch"}
    | {"max_bytes_per_batch", "batch_discount", "completion_window", "default_model"}
)
_PASSED: Final = ("batch", "max_requests_per_batch", "max_bytes_per_batch", "batch_discount")
"""Options whose strings msgspec converts as they are ("50000", "0.5", "false")."""


def options_from(
    given: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> CompatibleOptions:
    """Options from `given` (strings are parsed), with the key from `api_key` or `key_env`.

    Naming `key_env` says the server needs a key, so an unset variable is an error then; with
    the default variable unset, no key is sent (a local vLLM without `--api-key`).
    """
    unknown = sorted(set(given) - _OPTIONS)
    if unknown:
        raise ValueError(
            f"{PROVIDER} provider options: unknown option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_OPTIONS))})"
        )
    base_url = given.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(f"{PROVIDER}: the base_url option is not set; {_WHERE}")
    if not base_url.strip().startswith(("http://", "https://")):
        raise ValueError(f"{PROVIDER}: base_url must start with http:// or https://")
    key_env = _key_env(given.get("key_env"))
    kinds = _kinds(given.get("kinds", "chat"))
    fields = {name: given[name] for name in _PASSED if name in given}
    fields |= {
        "base_url": base_url.strip(),
        "key_env": key_env,
        "kinds": kinds,
        "completion_window": _window(given.get("completion_window", "24h")),
        "default_models": _models(given.get("default_model"), kinds),
    }
    try:
        options = msgspec.convert(fields, CompatibleOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{PROVIDER} provider options: {exc}") from None
    key = _key(given.get("api_key"), key_env, "key_env" in given, environ)
    return msgspec.structs.replace(options, api_key=key)


def _key_env(value: object) -> str:
    if value is None:
        return DEFAULT_KEY_ENV
    # Never echo the value: a key pasted here by mistake must not reach an error message.
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{PROVIDER}: key_env must name an environment variable in capitals "
            "(like TOGETHER_API_KEY), not hold the key itself"
        )
    return value


def _key(
    value: object, key_env: str, named: bool, environ: Mapping[str, str] | None
) -> Secret | None:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value:
        return Secret(value)
    if value is not None:
        raise ValueError(f"{PROVIDER}: api_key must be a string or a Secret")
    found = (os.environ if environ is None else environ).get(key_env)
    if found:
        return Secret(found)
    if named:
        raise ValueError(
            f"{PROVIDER}: {key_env} is not set; the key_env option says the server's key is there"
        )
    return None


def _kinds(value: object) -> frozenset[RequestKind]:
    names: Iterable[object] = value.split(",") if isinstance(value, str) else _items(value)
    kinds: set[RequestKind] = set()
    for name in names:
        text = str(name).strip().lower()
        if text:
            if text not in SERVABLE:
                raise ValueError(
                    f"{PROVIDER}: kinds may hold only "
                    f"{', '.join(sorted(SERVABLE))}, not {text[:40]!r}"
                )
            kinds.add(RequestKind(text))
    if not kinds:
        raise ValueError(f"{PROVIDER}: kinds must name at least one of chat, embedding")
    return frozenset(kinds)


def _items(value: object) -> Iterable[object]:
    if isinstance(value, Iterable):
        return value
    raise ValueError(f"{PROVIDER}: kinds must be a comma-separated string or a list")


def _window(value: object) -> str:
    if not isinstance(value, str) or not _WINDOW.fullmatch(value.strip()) or _seconds(value) <= 0:
        raise ValueError(
            f"{PROVIDER}: completion_window must be a count of minutes, hours or days "
            "such as 24h or 7d"
        )
    return value.strip()


def _seconds(window: str) -> int:
    match = _WINDOW.fullmatch(window.strip())
    assert match is not None
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def _models(value: object, kinds: frozenset[RequestKind]) -> dict[RequestKind, str]:
    """`model` for every kind, or `chat=model-a,embedding=model-b` (a mapping from code)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, str) and "=" in value:
        parts = (part.partition("=") for part in value.split(",") if part.strip())
        pairs = [(kind, model) for kind, _, model in parts]
    elif isinstance(value, str) and value.strip():
        return dict.fromkeys(kinds, value.strip())
    else:
        raise ValueError(f"{PROVIDER}: default_model must be a model name or kind=model pairs")
    models: dict[RequestKind, str] = {}
    for kind, model in pairs:
        name = kind.strip().lower()
        if name not in kinds or not model.strip():
            raise ValueError(
                f"{PROVIDER}: default_model pairs must be KIND=MODEL with KIND one of the "
                f"configured kinds ({', '.join(sorted(kinds))}), not {name[:40]!r}"
            )
        models[RequestKind(name)] = model.strip()
    return models


def provider_info(options: CompatibleOptions) -> ProviderInfo:
    """What the configured server can do, as `provider.info` reports it."""
    return ProviderInfo(
        name=PROVIDER,
        title=TITLE,
        kinds=options.kinds,
        limits=ProviderLimits(
            max_requests_per_batch=options.max_requests_per_batch,
            max_bytes_per_batch=options.max_bytes_per_batch,
            completion_window_s=float(_seconds(options.completion_window)),
        ),
        batch=options.batch,
        realtime=True,
        batch_discount=options.batch_discount,
        default_models=dict(options.default_models),
        key_env=options.key_env,
    )


def openai_options(options: CompatibleOptions) -> OpenAIOptions:
    """The OpenAI client's options for this server; nothing comes from `OPENAI_*` variables."""
    return OpenAIOptions(
        api_key=options.api_key,
        base_url=options.base_url,
        completion_window=options.completion_window,
    )
