"""Overrides reach the provider objects the application really uses, and apps share nothing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping

import pytest
from batchery.modules import Application, Module, UnknownPathError
from dependency_injector import containers, providers

opened = itertools.count()


async def open_session(options: Mapping[str, object]) -> AsyncIterator[str]:
    yield f"real session {next(opened)}"


class Client:
    def __init__(self, session: object) -> None:
        self.session = session


class HttpModule(Module):
    exports = ("session",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        session = providers.Resource(open_session, options)


class ApiModule(Module):
    imports = (HttpModule,)
    exports = ("client",)

    class Container(containers.DeclarativeContainer):
        session = providers.Dependency()
        client = providers.Singleton(Client, session)


class UserModule(Module):
    imports = (ApiModule,)

    class Container(containers.DeclarativeContainer):
        client = providers.Dependency()
        user = providers.Callable(lambda c: c, client)


async def test_overriding_an_export_reaches_the_importers() -> None:
    async with await Application.create(
        UserModule, overrides={"http.session": "fake session"}
    ) as app:
        client = await app.get("api.client", Client)
        assert client.session == "fake session"
        assert await app.get("user.user") is client


async def test_overriding_with_a_provider_and_overriding_a_slot() -> None:
    fake = Client("stub")
    async with await Application.create(
        UserModule,
        overrides={"api.client": providers.Object(fake), "api.session": "slot session"},
    ) as app:
        assert await app.get("user.user") is fake
        assert await app.get("api.session") == "slot session"


async def test_overrides_are_undone_when_the_app_closes() -> None:
    app = await Application.create(UserModule, overrides={"http.session": "fake"})
    session = app.provider("http.session")
    assert len(session.overridden) == 1
    await app.close()
    assert session.overridden == ()


async def test_an_override_of_an_unknown_path_is_refused() -> None:
    with pytest.raises(UnknownPathError, match="module 'api' has no provider 'nope'"):
        await Application.create(UserModule, overrides={"api.nope": 1})
    with pytest.raises(UnknownPathError, match="no module 'ghost'"):
        await Application.create(UserModule, overrides={"ghost.x": 1})


async def test_two_apps_in_one_process_share_nothing() -> None:
    first = await Application.create(UserModule, overrides={"http.session": "fake"})
    second = await Application.create(UserModule)
    try:
        assert (await first.get("api.client", Client)).session == "fake"
        assert (await second.get("api.client", Client)).session.startswith("real session")
        assert await first.get("api.client") is not await second.get("api.client")
        for module in ("http", "api", "user"):
            mine = first.container(module).providers
            theirs = second.container(module).providers
            assert all(mine[name] is not theirs[name] for name in mine)
        # The module classes themselves were never touched.
        assert not HttpModule.Container.session.overridden
        assert not ApiModule.Container.session.overridden
    finally:
        await first.close()
        await second.close()


async def test_get_checks_the_type_when_asked() -> None:
    async with await Application.create(UserModule, overrides={"http.session": "s"}) as app:
        with pytest.raises(TypeError, match=r"'api\.client' is Client, not str"):
            await app.get("api.client", str)
