"""Batchery's settings, layered and attributed to the place each value came from.

Layers, lowest to highest: defaults < a TOML file < `BATCHERY_*` environment variables <
explicit arguments (what the CLI was given). Each layer is validated key by key, so an error
names the key, the source and the rule; the layers are then merged in a dependency-injector
`Configuration` and converted to a frozen `Settings`.

The TOML file holds settings as top-level keys, with provider options in `[providers.NAME]`
tables::

    store = "sqlite:///var/lib/batchery/jobs.db"
    batch_threshold = 50
    log_format = "json"

    [providers.openai]
    base_url = "http://127.0.0.1:8080/v1"

API keys never live in settings: each provider reads its own variable (`OPENAI_API_KEY`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec
import platformdirs
from dependency_injector import providers

from batchery._settings_sources import (
    Entry,
    SettingsError,
    find_config_file,
    read_env,
    read_file,
    read_mapping,
)
from batchery.secrets import shown_url
from batchery.spi import ModelPrice
from batchery.store import DEFAULT_BUSY_TIMEOUT_S

__all__ = [
    "DEFAULT",
    "LoadedSettings",
    "LogFormat",
    "LogLevel",
    "Settings",
    "SettingsError",
    "default_store_url",
    "load_settings",
]

DEFAULT: Final = "default"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["auto", "console", "json"]

_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_NonNegativeSeconds = Annotated[float, msgspec.Meta(ge=0)]
_Factor = Annotated[float, msgspec.Meta(ge=1)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every tunable of a Batchery process; build it with `load_settings`."""

    store: _NonEmpty | None = None
    """The job store: a SQLite file's path or `sqlite:///` URL; None is `batchery.db` in the
    user data directory (see `default_store_url`)."""
    default_provider: _NonEmpty = "openai"
    """The provider a run uses when none is named."""
    default_model: _NonEmpty | None = None
    """The model a request without one uses; None leaves it to the provider's default."""
    batch_threshold: _Count = 20
    """Below this many requests (after the cache), `auto` runs realtime."""
    poll_interval_s: _Seconds = 2.0
    """Seconds between the first polls of a submitted batch."""
    poll_backoff: _Factor = 1.5
    """Each poll waits this many times longer than the one before."""
    poll_max_interval_s: _Seconds = 60.0
    """The longest wait between two polls."""
    request_timeout_s: _Seconds | None = None
    """Every provider's per-request time budget; None keeps each provider's own (60 s, 120 s
    for Anthropic). A `[providers.NAME] request_timeout_s` wins for that provider."""
    max_requests_per_batch: _PositiveInt | None = None
    """A lower cap than the provider's on requests in one batch."""
    max_bytes_per_batch: _PositiveInt | None = None
    """A lower cap than the provider's on one batch file's size in bytes."""
    realtime_concurrency: _PositiveInt = 16
    """Realtime calls in flight at once, per provider and model."""
    max_attempts: _PositiveInt = 3
    """Tries per request for retryable errors (rate limits aside), and per batch create."""
    reconcile_grace_s: _NonNegativeSeconds = 5.0
    """After a crash mid-submit, how long to wait before looking for the batch by
    tag a second time, before submitting it again."""
    not_found_grace_s: _NonNegativeSeconds = 600.0
    """How long after its own create a 404 for a batch still counts as the provider catching
    up rather than the batch being gone."""
    lease_s: _Seconds = 30.0
    """How long a driver's claim on a job lasts unless renewed."""
    heartbeat_s: _Seconds = 5.0
    """How often a driver renews its lease and looks for a cancel request; at most
    half of `lease_s`."""
    store_busy_timeout_s: _Seconds = DEFAULT_BUSY_TIMEOUT_S
    """How long a write waits for another process's transaction before the store
    is reported busy."""
    fallback: bool = True
    """Finish in realtime what a batch left undone (failed, expired or too late)."""
    strict: bool = False
    """Refuse, rather than warn about, a model the provider does not list."""
    use_cache: bool = True
    """Serve a request that ran before on the same endpoint from the result cache."""
    cache_max_age_days: _Seconds = 30.0
    """What `batchery cache prune` drops by default: answers older than this."""
    log_level: LogLevel = "info"
    """The least level logged; the CLI shows warnings only unless this is set or `-v`
    is given."""
    log_format: LogFormat = "auto"
    """`console` for people, `json` for machines; `auto` chooses by whether stderr is a
    terminal."""
    providers: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    """Options per provider (`[providers.openai] base_url = ...`); never keys."""
    prices: dict[str, dict[str, ModelPrice]] = msgspec.field(default_factory=dict)
    """Price overrides in USD per million tokens, per provider and model."""

    def store_url(self) -> str:
        """The store to open: `store` as given, or the default file in the user data dir."""
        return self.store if self.store is not None else default_store_url()


_FIELDS: Final = {field.name: field for field in msgspec.structs.fields(Settings)}

_RULES: Final = {
    "store": "must be a non-empty path or store URL",
    "default_provider": "must be a non-empty provider name",
    "default_model": "must be a non-empty model name",
    "batch_threshold": "must be an integer >= 0",
    "poll_interval_s": "must be a number of seconds > 0",
    "poll_backoff": "must be a number >= 1",
    "poll_max_interval_s": "must be a number of seconds > 0",
    "request_timeout_s": "must be a number of seconds > 0",
    "max_requests_per_batch": "must be an integer >= 1",
    "max_bytes_per_batch": "must be an integer >= 1",
    "realtime_concurrency": "must be an integer >= 1",
    "max_attempts": "must be an integer >= 1",
    "reconcile_grace_s": "must be a number of seconds >= 0",
    "not_found_grace_s": "must be a number of seconds >= 0",
    "lease_s": "must be a number of seconds > 0",
    "heartbeat_s": "must be a number of seconds > 0",
    "store_busy_timeout_s": "must be a number of seconds > 0",
    "fallback": "must be true or false",
    "strict": "must be true or false",
    "use_cache": "must be true or false",
    "cache_max_age_days": "must be a number of days > 0",
    "log_level": "must be one of debug, info, warning, error, critical",
    "log_format": "must be one of auto, console, json",
    "providers": "must be a table of provider tables of option = string pairs",
    "prices": 'must be [prices.<provider>."<model>"] tables with input, output,'
    " cached_input, batch_input and batch_output in USD per million tokens",
}

_CASE_INSENSITIVE: Final = frozenset({"log_level", "log_format"})

_KEY_OPTION_NAMES: Final = frozenset(
    {"key", "api_key", "apikey", "token", "secret", "password", "authorization"}
)


def default_store_url() -> str:
    """`sqlite:///` and the job database's path in the user's data directory."""
    path = platformdirs.user_data_path("batchery", appauthor=False) / "batchery.db"
    return f"sqlite:///{path}"


class LoadedSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Settings with the source of each value: `default`, `file:PATH`, `env:NAME`, `argument`.

    `sources` has one entry per field, and one per provider option (`providers.openai.base_url`).
    """

    settings: Settings
    sources: dict[str, str]
    config_file: str | None = None

    def entries(self) -> list[tuple[str, object, str]]:
        """`(key, effective value, source)` for every setting, in field order."""
        rows: list[tuple[str, object, str]] = []
        for name in _FIELDS:
            if name == "providers":
                options = [
                    (f"providers.{provider}.{option}", value)
                    for provider, table in sorted(self.settings.providers.items())
                    for option, value in sorted(table.items())
                ]
                rows.extend((key, value, self.sources[key]) for key, value in options)
                if not options:
                    rows.append((name, {}, self.sources[name]))
            elif name == "store":
                rows.append((name, shown_url(self.settings.store_url()), self.sources[name]))
            else:
                rows.append((name, getattr(self.settings, name), self.sources[name]))
        return rows


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    explicit: Mapping[str, object] | None = None,
) -> LoadedSettings:
    """Merge defaults, the config file, `BATCHERY_*` variables and `explicit`, in that order.

    `explicit` is shaped like `Settings`; None values in it mean "not given", so the CLI can
    pass its options straight through. Raises `SettingsError` on any unknown or invalid value.
    """
    path = find_config_file(config_file, environ)
    layers = [
        read_file(path) if path is not None else [],
        read_env(environ),
        read_mapping(explicit or {}),
    ]

    config = providers.Configuration(name="batchery")
    config.from_dict(msgspec.structs.asdict(Settings()))
    sources = dict.fromkeys(_FIELDS, DEFAULT)
    for layer in layers:
        merged: dict[str, Any] = {}
        for entry in layer:
            value = _validated(entry)
            *parents, leaf = entry.path
            target = merged
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
            sources[entry.key] = entry.source
        config.from_dict(merged)

    settings = msgspec.convert(config(), Settings)
    _check_together(settings, sources)
    return LoadedSettings(
        settings=settings, sources=sources, config_file=str(path) if path else None
    )


def _validated(entry: Entry) -> object:
    """The entry's value converted to its field's type; env strings are parsed leniently."""
    name = entry.path[0]
    if name not in _FIELDS:
        raise SettingsError(entry.key, entry.source, _unknown(name))
    if name == "providers":
        return _provider_option(entry)
    value = entry.value
    if name in _CASE_INSENSITIVE and isinstance(value, str):
        value = value.lower()
    lenient = entry.source.startswith("env:")
    try:
        return msgspec.convert(value, _FIELDS[name].type, strict=not lenient)
    except msgspec.ValidationError as exc:
        raise SettingsError(entry.key, entry.source, f"{_RULES[name]} ({exc})") from None


def _provider_option(entry: Entry) -> str:
    if len(entry.path) != 3:
        raise SettingsError(entry.key, entry.source, _RULES["providers"])
    option = entry.path[2].lower().replace("-", "_")
    if option in _KEY_OPTION_NAMES or option.endswith(("_key", "_token", "_secret")):
        raise SettingsError(
            entry.key,
            entry.source,
            "keys never live in settings; set the provider's key variable (OPENAI_API_KEY)",
        )
    if not isinstance(entry.value, str):
        raise SettingsError(entry.key, entry.source, "a provider option must be a string")
    return entry.value


def _unknown(name: str) -> str:
    if name == "batchery":
        return "unknown setting; write settings as top-level keys, not in a [batchery] table"
    close = difflib.get_close_matches(name, _FIELDS, n=1)
    return f"unknown setting; did you mean {close[0]!r}?" if close else "unknown setting"


def _check_together(settings: Settings, sources: Mapping[str, str]) -> None:
    """Rules that span two settings; the error blames the higher one."""
    if settings.poll_max_interval_s < settings.poll_interval_s:
        raise SettingsError(
            "poll_max_interval_s",
            sources["poll_max_interval_s"],
            f"must be >= poll_interval_s ({settings.poll_interval_s:g}, "
            f"from {sources['poll_interval_s']})",
        )
    if settings.heartbeat_s * 2 > settings.lease_s:
        raise SettingsError(
            "heartbeat_s",
            sources["heartbeat_s"],
            f"must be at most half of lease_s ({settings.lease_s:g}, from {sources['lease_s']}),"
            " so a lease is renewed well before it expires",
        )
