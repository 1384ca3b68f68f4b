"""Entry-point discovery against real distributions written into a throwaway site directory."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batchery.modules import Module
from batchery.plugins import (
    NODES_GROUP,
    PROVIDERS_GROUP,
    PluginEntry,
    PluginError,
    discover_plugins,
    discover_providers,
    validate_provider,
)
from batchery.spi import BATCHERY_API
from structlog.testing import capture_logs

PROVIDER_SOURCE = """
from batchery.model import RequestKind
from batchery.modules import Module
from batchery.spi import ProviderInfo, ProviderLimits

class FakeModule(Module):
    name = "{name}"
    INFO = ProviderInfo(
        name="{info_name}",
        title="Fake",
        kinds=frozenset({{RequestKind.CHAT}}),
        limits=ProviderLimits(max_requests_per_batch=10, max_bytes_per_batch=1000),
        batchery_api={api},
    )
"""

Install = Callable[..., str]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Write a distribution (dist-info plus one module) and put its directory on sys.path.

    The module's name is the distribution's with "-" turned into "_".
    """
    imported: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def install_(
        entry: str,
        source: str,
        *,
        group: str = PROVIDERS_GROUP,
        attribute: str = "FakeModule",
    ) -> str:
        token = uuid.uuid4().hex[:8]
        distribution, module = f"fake-{entry}-{token}", f"fake_{entry}_{token}"
        info = tmp_path / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n"
        )
        (info / "entry_points.txt").write_text(f"[{group}]\n{entry} = {module}:{attribute}\n")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        imported.append(module)
        return distribution

    yield install_
    for module in imported:
        sys.modules.pop(module, None)


def provider(name: str, *, info_name: str | None = None, api: int = BATCHERY_API) -> str:
    return PROVIDER_SOURCE.format(name=name, info_name=info_name or name, api=api)


def ours(entries: list[PluginEntry]) -> dict[str, PluginEntry]:
    return {e.name: e for e in entries if e.distribution.startswith("fake-")}


def test_good_broken_and_wrong_plugins_are_reported_each_on_its_own(install: Install) -> None:
    good = install("goodprov", provider("goodprov"))
    broken = install("brokenprov", "raise RuntimeError('no network at import time')\n")
    wrong = install("wrongprov", provider("wrongprov", info_name="other"))
    stale = install("staleprov", provider("staleprov", api=BATCHERY_API + 1))
    plain = install("plainprov", "FakeModule = object()\n")

    with capture_logs() as logs:
        found = ours(discover_providers(environ={}))

    assert list(found) == sorted(found)
    entry = found["goodprov"]
    assert (entry.distribution, entry.version, entry.error) == (good, "1.2.3", None)
    assert entry.module is not None
    assert issubclass(entry.module, Module)
    assert entry.module.name == "goodprov"

    assert found["brokenprov"].module is None
    assert found["brokenprov"].error is not None
    assert "RuntimeError: no network at import time" in found["brokenprov"].error
    assert found["wrongprov"].error == (
        "FakeModule.INFO.name is 'other' but its entry point is 'wrongprov'"
    )
    assert found["staleprov"].error == (
        f"FakeModule is written for batchery API {BATCHERY_API + 1}; "
        f"this batchery speaks API {BATCHERY_API}"
    )
    assert found["plainprov"].error is not None
    assert "is not a batchery.modules.Module subclass" in found["plainprov"].error

    failed = {e["distribution"] for e in logs if e["event"] == "plugin failed to load"}
    assert failed & {good, broken, wrong, stale, plain} == {broken, wrong, stale, plain}


def test_allow_list_keeps_others_unimported(install: Install) -> None:
    install("keptprov", provider("keptprov"))
    skipped_module = install("skippedprov", provider("skippedprov")).replace("-", "_")

    found = ours(discover_providers(environ={"BATCHERY_PLUGINS": " keptprov , absent "}))

    assert list(found) == ["keptprov"]
    assert found["keptprov"].module is not None
    assert skipped_module not in sys.modules


def test_naming_the_providers_needed_imports_no_other(install: Install) -> None:
    install("usedprov", provider("usedprov"))
    unused_module = install("unusedprov", provider("unusedprov")).replace("-", "_")
    broken_module = install("brokenprov", "raise RuntimeError('never imported')\n")

    with capture_logs() as logs:
        found = ours(discover_providers(environ={}, names=["usedprov", "absent"]))

    assert list(found) == ["usedprov"]
    assert found["usedprov"].module is not None
    assert unused_module not in sys.modules
    assert broken_module.replace("-", "_") not in sys.modules
    assert not [e for e in logs if e["event"] == "plugin failed to load"]


def test_the_allow_list_still_applies_to_named_providers(install: Install) -> None:
    install("listedprov", provider("listedprov"))
    install("unlistedprov", provider("unlistedprov"))

    environ = {"BATCHERY_PLUGINS": "listedprov"}
    found = ours(discover_providers(environ=environ, names=["listedprov", "unlistedprov"]))
    assert list(found) == ["listedprov"]


def test_disabling_autoload_loads_only_what_is_named(install: Install) -> None:
    install("firstprov", provider("firstprov"))
    install("secondprov", provider("secondprov"))

    disabled = {"BATCHERY_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert ours(discover_providers(environ=disabled)) == {}
    named = discover_providers(environ={**disabled, "BATCHERY_PLUGINS": "secondprov"})
    assert list(ours(named)) == ["secondprov"]


def test_a_second_group_is_one_call(install: Install) -> None:
    install("nodeplug", provider("nodeplug"), group=NODES_GROUP)

    def any_module(name: str, loaded: object) -> type[Module]:
        if isinstance(loaded, type) and issubclass(loaded, Module):
            return loaded
        raise PluginError(f"{name} is not a module")

    assert ours(discover_providers(environ={})) == {}
    (entry,) = ours(discover_plugins(NODES_GROUP, any_module, environ={})).values()
    assert (entry.name, entry.group, entry.error) == ("nodeplug", NODES_GROUP, None)


def test_validate_provider_checks_the_info_shape() -> None:
    from batchery.model import RequestKind
    from batchery.spi import ProviderInfo, ProviderLimits

    class MistypedModule(Module):
        INFO = ProviderInfo(
            name="mistyped",
            title="Mistyped",
            kinds=frozenset({RequestKind.CHAT}),
            limits=ProviderLimits(max_requests_per_batch="many", max_bytes_per_batch=1),  # type: ignore[arg-type]
        )

    with pytest.raises(PluginError, match=r"MistypedModule\.INFO is malformed"):
        validate_provider("mistyped", MistypedModule)

    class NoInfoModule(Module):
        pass

    with pytest.raises(PluginError, match=r"must be a batchery\.spi\.ProviderInfo, not NoneType"):
        validate_provider("noinfo", NoInfoModule)
