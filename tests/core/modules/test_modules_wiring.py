"""Compiling module graphs: imports and exports, refusals, cycles, global modules, `collects`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest
from batchery.modules import (
    Application,
    Module,
    ModuleCompileError,
    ModuleDefinition,
)
from batchery.modules._compiler import compile_modules
from dependency_injector import containers, providers


async def open_session(options: Mapping[str, object]) -> AsyncIterator[dict[str, object]]:
    yield {"session_for": dict(options)}


class Client:
    def __init__(self, options: Mapping[str, object], session: object) -> None:
        self.options = options
        self.session = session


class HttpModule(Module):
    exports = ("session",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        session = providers.Resource(open_session, options)
        secret = providers.Object("not exported")


class OpenAIModule(Module):
    imports = (HttpModule,)
    exports = ("provider",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        session = providers.Dependency()
        provider = providers.Singleton(Client, options, session)


def test_name_defaults_to_class_name_without_module() -> None:
    assert HttpModule.name == "http"
    assert OpenAIModule.name == "openai"


def test_for_root_returns_a_frozen_definition() -> None:
    definition = HttpModule.for_root(timeout=3)
    assert definition == ModuleDefinition(HttpModule, {"timeout": 3}, False)
    assert definition.name == "http"
    with pytest.raises(TypeError):
        definition.options["timeout"] = 4  # type: ignore[index]
    with pytest.raises(AttributeError):
        definition.global_ = True  # type: ignore[misc]
    assert HttpModule.for_root(global_=True).global_ is True


def test_exports_written_as_a_string_are_refused() -> None:
    with pytest.raises(TypeError, match="exports must be a tuple"):

        class _Bad(Module):
            exports = "session"  # type: ignore[assignment]


async def test_import_slot_is_filled_from_the_export_and_options_reach_each_module() -> None:
    app = await Application.create(
        OpenAIModule.for_root(api_key="k"), extra=[HttpModule.for_root(timeout=3)]
    )
    client = await app.get("openai.provider", Client)
    assert dict(client.options) == {"api_key": "k"}
    assert client.session == {"session_for": {"timeout": 3}}
    assert client.session is await app.get("http.session")
    await app.close()


async def test_bare_class_import_takes_the_configuration_given_elsewhere() -> None:
    modules = compile_modules(OpenAIModule, [HttpModule.for_root(timeout=9)])
    http = next(m for m in modules if m.name == "http")
    assert dict(http.container.providers["options"]()) == {"timeout": 9}


def test_two_different_configurations_of_one_module_are_refused() -> None:
    with pytest.raises(ModuleCompileError, match="module 'http' is configured twice"):
        compile_modules(HttpModule.for_root(timeout=1), [HttpModule.for_root(timeout=2)])


def test_a_provider_that_is_not_exported_is_refused() -> None:
    class LeakyModule(Module):
        imports = (HttpModule,)

        class Container(containers.DeclarativeContainer):
            secret = providers.Dependency()

    with pytest.raises(ModuleCompileError) as caught:
        compile_modules(LeakyModule)
    assert str(caught.value) == (
        "module 'leaky' cannot use 'secret' from module 'http': "
        "'http' does not export it (it exports 'session')"
    )


def test_an_unfilled_slot_names_module_and_slot() -> None:
    class LonelyModule(Module):
        class Container(containers.DeclarativeContainer):
            cache = providers.Dependency()

    with pytest.raises(ModuleCompileError) as lonely:
        compile_modules(LonelyModule)
    assert str(lonely.value) == (
        "module 'lonely' has an unfilled dependency slot 'cache': "
        "no imported or global module exports it"
    )


def test_a_slot_with_a_default_may_stay_unfilled() -> None:
    class DefaultedModule(Module):
        class Container(containers.DeclarativeContainer):
            cache = providers.Dependency(default=providers.Object("local"))

    (compiled,) = compile_modules(DefaultedModule)
    assert compiled.container.providers["cache"]() == "local"


def test_exporting_a_name_the_container_lacks_is_refused() -> None:
    class TypoModule(Module):
        exports = ("sesion",)

        class Container(containers.DeclarativeContainer):
            session = providers.Object(1)

    with pytest.raises(ModuleCompileError, match="module 'typo' exports 'sesion', which is not"):
        compile_modules(TypoModule)


def test_options_without_an_options_slot_are_refused() -> None:
    class PlainModule(Module):
        class Container(containers.DeclarativeContainer):
            value = providers.Object(1)

    compile_modules(PlainModule.for_root())
    with pytest.raises(ModuleCompileError, match="has no 'options' slot"):
        compile_modules(PlainModule.for_root(x=1))


class CycleAModule(Module):
    imports: tuple[type[Module] | ModuleDefinition, ...] = ()


class CycleBModule(Module):
    imports = (CycleAModule,)


class CycleCModule(Module):
    imports = (CycleBModule,)


def test_an_import_cycle_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CycleAModule, "imports", (CycleCModule,))
    with pytest.raises(ModuleCompileError) as caught:
        compile_modules(CycleAModule)
    assert str(caught.value) == "import cycle: cyclea -> cyclec -> cycleb -> cyclea"


def test_a_module_importing_itself_is_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CycleAModule, "imports", (CycleAModule,))
    with pytest.raises(ModuleCompileError, match=r"^import cycle: cyclea -> cyclea$"):
        compile_modules(CycleAModule)


class ConfigModule(Module):
    global_ = True
    exports = ("settings",)

    class Container(containers.DeclarativeContainer):
        settings = providers.Object({"region": "eu"})


class ReportModule(Module):
    exports = ("report",)

    class Container(containers.DeclarativeContainer):
        settings = providers.Dependency()
        report = providers.Callable(lambda s: f"region={s['region']}", settings)


async def test_global_module_fills_slots_without_an_import() -> None:
    async with await Application.create(ReportModule, extra=[ConfigModule]) as app:
        assert await app.get("report.report") == "region=eu"


def test_global_by_for_root_and_not_global_by_default() -> None:
    class LocalConfigModule(Module):
        exports = ("settings",)

        class Container(containers.DeclarativeContainer):
            settings = providers.Object({"region": "us"})

    with pytest.raises(ModuleCompileError, match="unfilled dependency slot 'settings'"):
        compile_modules(ReportModule, [LocalConfigModule])
    compiled = compile_modules(ReportModule, [LocalConfigModule.for_root(global_=True)])
    report = next(m for m in compiled if m.name == "report")
    assert report.container.providers["report"]() == "region=us"


def test_two_global_modules_exporting_one_name_are_ambiguous() -> None:
    class OtherConfigModule(ConfigModule):
        pass

    with pytest.raises(ModuleCompileError, match="exported by several modules"):
        compile_modules(ReportModule, [ConfigModule, OtherConfigModule])


def test_a_cycle_through_global_modules_is_named() -> None:
    class PingModule(Module):
        global_ = True
        exports = ("ping",)

        class Container(containers.DeclarativeContainer):
            pong = providers.Dependency()
            ping = providers.Object("ping")

    class PongModule(Module):
        global_ = True
        exports = ("pong",)

        class Container(containers.DeclarativeContainer):
            ping = providers.Dependency()
            pong = providers.Object("pong")

    with pytest.raises(ModuleCompileError, match=r"^dependency cycle: ping -> pong -> ping$"):
        compile_modules(PingModule, [PongModule])


class CoreModule(Module):
    collects = {"llm_providers": "provider"}

    class Container(containers.DeclarativeContainer):
        llm_providers = providers.Dependency()
        service = providers.Singleton(dict, llm_providers)


class AnthropicModule(Module):
    imports = (HttpModule,)
    exports = ("provider",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        session = providers.Dependency()
        provider = providers.Singleton(Client, options, session)


async def test_collects_gathers_every_module_exporting_the_name() -> None:
    async with await Application.create(
        CoreModule.for_root(), extra=[OpenAIModule.for_root(), AnthropicModule.for_root()]
    ) as app:
        service = await app.get("core.service")
        assert service == {
            "openai": await app.get("openai.provider"),
            "anthropic": await app.get("anthropic.provider"),
        }
        assert app.modules[-1] == "core"  # it uses both providers, so it starts after them


async def test_collects_with_nothing_to_collect_is_an_empty_dict() -> None:
    async with await Application.create(CoreModule) as app:
        assert await app.get("core.service") == {}


def test_collects_into_a_missing_slot_is_refused() -> None:
    class BrokenCoreModule(Module):
        collects = {"llm_providers": "provider"}

    with pytest.raises(ModuleCompileError, match="collects into 'llm_providers', which is not"):
        compile_modules(BrokenCoreModule)


def test_resources_are_ordered_by_dependency_not_declaration() -> None:
    class PairModule(Module):
        class Container(containers.DeclarativeContainer):
            early = providers.Resource(lambda *_: "early")

    (compiled,) = compile_modules(PairModule)
    late = providers.Resource(lambda: "late")
    compiled.container.set_provider("late", late)
    compiled.container.providers["early"].add_args(late)  # `early` now needs `late`
    assert [name for name, _ in compiled.resources()] == ["late", "early"]


async def test_a_module_can_re_export_what_it_imported() -> None:
    class NetModule(Module):
        imports = (HttpModule,)
        exports = ("session",)

        class Container(containers.DeclarativeContainer):
            session = providers.Dependency()

    class ConsumerModule(Module):
        imports = (NetModule,)

        class Container(containers.DeclarativeContainer):
            session = providers.Dependency()

    async with await Application.create(ConsumerModule) as app:
        assert await app.get("consumer.session") is await app.get("http.session")
    assert app.modules == ("http", "net", "consumer")
