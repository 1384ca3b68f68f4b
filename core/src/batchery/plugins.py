"""Find provider modules through entry points, so built-in and third-party ones load the same way.

Discovery is two-phase, as in flake8: entry points are listed from distribution metadata without
importing anything, the allow list is applied, and only then is each selected plugin imported and
checked; a caller that names the plugins it needs imports only those, so a run on one provider
never pays for (or breaks on) the others. A plugin that fails to import or to validate becomes a
`PluginEntry` with an `error` that names its distribution; it never stops the others from loading.

Environment:
    BATCHERY_PLUGINS: comma-separated entry-point names; when set, only these are loaded.
    BATCHERY_DISABLE_PLUGIN_AUTOLOAD: "1" loads nothing except what BATCHERY_PLUGINS names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from importlib import metadata

import msgspec
import structlog

from batchery.modules import Module
from batchery.spi import BATCHERY_API, ProviderInfo, ProviderModule

__all__ = [
    "NODES_GROUP",
    "PROVIDERS_GROUP",
    "PluginEntry",
    "PluginError",
    "discover_plugins",
    "discover_providers",
    "validate_provider",
]

PROVIDERS_GROUP = "batchery.providers"
NODES_GROUP = "batchery.nodes"

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.plugins")

_TRUE = frozenset({"1", "true", "yes", "on"})


class PluginError(Exception):
    """A loaded plugin object is not what its entry-point group requires."""


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """One discovered plugin: exactly one of `module` and `error` is set."""

    name: str
    distribution: str
    version: str
    group: str
    value: str
    module: type[Module] | None = None
    error: str | None = None


Validator = Callable[[str, object], type[Module]]
"""Checks what an entry point named `name` loaded; returns it or raises `PluginError`."""


def discover_providers(
    *, environ: Mapping[str, str] = os.environ, names: Collection[str] | None = None
) -> list[PluginEntry]:
    """The provider modules registered under `batchery.providers` (only `names`, if given),
    sorted by name."""
    return discover_plugins(PROVIDERS_GROUP, validate_provider, environ=environ, names=names)


def discover_plugins(
    group: str,
    validate: Validator,
    *,
    environ: Mapping[str, str] = os.environ,
    names: Collection[str] | None = None,
) -> list[PluginEntry]:
    """Find, select, load and validate the entry points of `group`; with `names`, only the
    entry points so named are imported.

    Entries are deduplicated by (distribution, name) and sorted by name, then distribution.
    """
    selected = _select(_find(group), environ)
    if names is not None:
        selected = [item for item in selected if item[0].name in names]
    entries = [_load(entry_point, distribution, validate) for entry_point, distribution in selected]
    return sorted(entries, key=lambda e: (e.name, e.distribution))


def validate_provider(name: str, loaded: object) -> type[Module]:
    """A provider plugin is a `Module` subclass whose `INFO` describes it, for this API version."""
    if not (isinstance(loaded, type) and issubclass(loaded, Module)):
        raise PluginError(f"{loaded!r} is not a batchery.modules.Module subclass")
    declared: object = loaded
    info = declared.INFO if isinstance(declared, ProviderModule) else None
    if not isinstance(info, ProviderInfo):
        raise PluginError(
            f"{loaded.__qualname__}.INFO must be a batchery.spi.ProviderInfo, "
            f"not {type(info).__name__}"
        )
    if info.batchery_api != BATCHERY_API:
        raise PluginError(
            f"{loaded.__qualname__} is written for batchery API {info.batchery_api}; "
            f"this batchery speaks API {BATCHERY_API}"
        )
    if info.name != name:
        raise PluginError(
            f"{loaded.__qualname__}.INFO.name is {info.name!r} but its entry point is {name!r}"
        )
    # Struct constructors don't check field types; a round trip through msgspec does.
    try:
        msgspec.convert(msgspec.to_builtins(info), ProviderInfo)
    except (msgspec.ValidationError, TypeError) as exc:
        raise PluginError(f"{loaded.__qualname__}.INFO is malformed: {exc}") from exc
    return loaded


def _find(group: str) -> list[tuple[metadata.EntryPoint, metadata.Distribution | None]]:
    """Entry points of `group` from metadata alone; nothing is imported here."""
    found: list[tuple[metadata.EntryPoint, metadata.Distribution | None]] = []
    seen: set[tuple[str, str]] = set()
    for entry_point in metadata.entry_points(group=group):
        distribution = entry_point.dist
        key = (_canonical(distribution.name) if distribution else "", entry_point.name)
        if key not in seen:
            seen.add(key)
            found.append((entry_point, distribution))
    return found


def _select(
    found: list[tuple[metadata.EntryPoint, metadata.Distribution | None]],
    environ: Mapping[str, str],
) -> list[tuple[metadata.EntryPoint, metadata.Distribution | None]]:
    allowed = {n.strip() for n in environ.get("BATCHERY_PLUGINS", "").split(",") if n.strip()}
    if allowed:
        return [item for item in found if item[0].name in allowed]
    if environ.get("BATCHERY_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() in _TRUE:
        return []
    return found


def _load(
    entry_point: metadata.EntryPoint,
    distribution: metadata.Distribution | None,
    validate: Validator,
) -> PluginEntry:
    name = distribution.name if distribution else "<unknown distribution>"
    version = distribution.version if distribution else ""
    entry = PluginEntry(entry_point.name, name, version, entry_point.group, entry_point.value)
    try:
        module = validate(entry_point.name, entry_point.load())
    except PluginError as exc:
        error = str(exc)
    except Exception as exc:
        error = f"cannot load {entry_point.value!r}: {type(exc).__name__}: {exc}"
    else:
        return replace(entry, module=module)
    _log.warning(
        "plugin failed to load",
        plugin=entry_point.name,
        group=entry_point.group,
        distribution=name,
        version=version,
        error=error,
    )
    return replace(entry, error=error)


def _canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()
