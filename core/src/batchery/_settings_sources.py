"""Reading each settings layer (TOML file, environment, arguments) into attributed entries.

Every value is kept with the place it came from, so that an error can name its source and
`batchery config` can show why a setting has the value it has.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "ENV_PREFIX",
    "Entry",
    "SettingsError",
    "find_config_file",
    "read_env",
    "read_file",
    "read_mapping",
]

ENV_PREFIX = "BATCHERY_"
CONFIG_ENV = "BATCHERY_CONFIG"
NOT_SETTINGS = frozenset(
    {
        CONFIG_ENV,
        "BATCHERY_PLUGINS",
        "BATCHERY_DISABLE_PLUGIN_AUTOLOAD",
        "BATCHERY_CRASHPOINT",
        "BATCHERY_TOKEN",
    }
)
"""Variables with the prefix that steer the process (the config file, plugins, test crash
points, the progress server's token) rather than name a setting."""

DEFAULT_CONFIG_NAME = "batchery.toml"
ARGUMENT = "argument"

_ENV_SEPARATOR = "__"


class SettingsError(ValueError):
    """A setting is unknown or invalid; says which key, from which source, and the rule broken."""

    def __init__(self, key: str | None, source: str, rule: str) -> None:
        self.key = key
        self.source = source
        self.rule = rule
        where = f"{key} from {source}" if key is not None else source
        super().__init__(f"{where}: {rule}")


class Entry(NamedTuple):
    """One value of one layer: `path` is the key (`("providers", "openai", "base_url")`)."""

    path: tuple[str, ...]
    value: object
    source: str

    @property
    def key(self) -> str:
        return ".".join(self.path)


def find_config_file(
    config_file: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """The file to read: the explicit one, else `BATCHERY_CONFIG`, else `./batchery.toml`.

    A file that was asked for by name must exist; the implicit `./batchery.toml` is optional.
    """
    named: str | os.PathLike[str] | None = config_file
    origin = "--config"
    if named is None and environ.get(CONFIG_ENV):
        named, origin = environ[CONFIG_ENV], f"env:{CONFIG_ENV}"
    if named is not None:
        path = Path(named).expanduser().absolute()
        if not path.is_file():
            raise SettingsError(None, origin, f"config file {path} is not an existing file")
        return path
    implicit = Path.cwd() / DEFAULT_CONFIG_NAME
    return implicit if implicit.is_file() else None


def read_file(path: Path) -> list[Entry]:
    """Entries of a TOML config file whose settings are top-level keys."""
    source = f"file:{path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(None, source, f"cannot read the file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(None, source, "the file is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(None, source, f"invalid TOML: {exc}") from exc
    return read_mapping(data, source)


def read_mapping(data: Mapping[str, object], source: str = ARGUMENT) -> list[Entry]:
    """Entries of a mapping shaped like `Settings`; None values are left out (not given)."""
    entries: list[Entry] = []
    for key, value in data.items():
        if value is None:
            continue
        if key == "providers" and isinstance(value, Mapping):
            entries.extend(_provider_entries(value, source))
        else:
            entries.append(Entry((key,), value, source))
    return entries


def _provider_entries(providers: Mapping[str, object], source: str) -> list[Entry]:
    entries: list[Entry] = []
    for name, options in providers.items():
        if not isinstance(options, Mapping):
            raise SettingsError(
                f"providers.{name}", source, "must be a table of option = string pairs"
            )
        entries.extend(
            Entry(("providers", name, option), value, source) for option, value in options.items()
        )
    return entries


def read_env(environ: Mapping[str, str]) -> list[Entry]:
    """Entries of the `BATCHERY_*` variables; an empty variable counts as unset.

    `BATCHERY_BATCH_THRESHOLD` sets `batch_threshold`; `BATCHERY_PROVIDERS__OPENAI__BASE_URL`
    sets `providers.openai.base_url`. Values stay strings here; the caller converts them.
    """
    entries: list[Entry] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS or not environ[name]:
            continue
        source = f"env:{name}"
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split(_ENV_SEPARATOR))
        if path[0] == "providers" and len(path) != 3:
            raise SettingsError(
                ".".join(path),
                source,
                f"provider options are set as {ENV_PREFIX}PROVIDERS__<PROVIDER>__<OPTION>",
            )
        if path[0] != "providers" and len(path) != 1:
            raise SettingsError(".".join(path), source, "unknown setting")
        entries.append(Entry(path, environ[name], source))
    return entries
