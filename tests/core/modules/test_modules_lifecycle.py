"""Start-up order, rollback of a failed start-up, best-effort shutdown, deadline, signals.

Every Resource and instance appends to one list held in the application's options, so each test
reads the exact sequence of events of its own application.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from unittest.mock import MagicMock

import pytest
from batchery.modules import Application, Module, ModuleInitError
from dependency_injector import containers, providers
from structlog.testing import capture_logs


def fail_at(options: Mapping[str, Any], event: str) -> None:
    options["log"].append(event)
    if event in options.get("fail", ()):
        raise RuntimeError(f"{event} failed")


async def resource(options: Mapping[str, Any], label: str, *_: object) -> AsyncIterator[str]:
    fail_at(options, f"open {label}")
    yield label
    fail_at(options, f"close {label}")


class Service:
    def __init__(self, options: Mapping[str, Any], label: str, *_: object) -> None:
        self.options = options
        self.label = label

    async def on_module_init(self) -> None:
        fail_at(self.options, f"init {self.label}")

    async def on_application_bootstrap(self) -> None:
        fail_at(self.options, f"bootstrap {self.label}")

    async def on_module_destroy(self) -> None:
        fail_at(self.options, f"destroy {self.label}")

    async def before_application_shutdown(self, signal: str | None) -> None:
        fail_at(self.options, f"before {self.label} {signal}")

    async def on_application_shutdown(self, signal: str | None) -> None:
        fail_at(self.options, f"shutdown {self.label} {signal}")
        if "hang" in self.options and self.label == "root":
            await asyncio.sleep(3600)


class SettingsModule(Module):
    global_ = True
    exports = ("clock",)

    class Container(containers.DeclarativeContainer):
        clock = providers.Object(time.monotonic)


class LeafModule(Module):
    exports = ("conn",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        conn = providers.Resource(resource, options, "conn")
        svc = providers.Singleton(Service, options, "leaf")


class MidModule(Module):
    imports = (LeafModule,)
    exports = ("svc",)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        conn = providers.Dependency()
        pool = providers.Resource(resource, options, "pool", conn)
        cache = providers.Resource(resource, options, "cache")
        svc = providers.Singleton(Service, options, "mid", pool)


class RootModule(Module):
    imports = (MidModule,)

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency()
        svc = providers.Dependency()
        root = providers.Singleton(Service, options, "root", svc)


async def start(log: list[str], *, deadline: float = 5.0, **options: object) -> Application:
    opts = {"log": log, **options}
    return await Application.create(
        RootModule.for_root(**opts),
        extra=[MidModule.for_root(**opts), LeafModule.for_root(**opts)],
        shutdown_deadline=deadline,
    )


STARTUP = [
    "open conn",
    "init leaf",
    "open pool",
    "open cache",
    "init mid",
    "init root",
    "bootstrap leaf",
    "bootstrap mid",
    "bootstrap root",
]


async def test_startup_goes_deepest_module_first_resources_then_hooks() -> None:
    log: list[str] = []
    app = await start(log)
    assert app.modules == ("leaf", "mid", "root")
    assert log == STARTUP
    await app.close()


async def test_close_runs_in_exact_reverse_and_passes_the_signal() -> None:
    log: list[str] = []
    app = await start(log)
    log.clear()
    await app.close("SIGTERM")
    assert log == [
        "destroy root",
        "destroy mid",
        "destroy leaf",
        "before root SIGTERM",
        "before mid SIGTERM",
        "before leaf SIGTERM",
        "shutdown root SIGTERM",
        "shutdown mid SIGTERM",
        "shutdown leaf SIGTERM",
        "close cache",
        "close pool",
        "close conn",
    ]


async def test_closing_twice_is_harmless_and_a_closed_app_hands_out_nothing() -> None:
    log: list[str] = []
    app = await start(log)
    await app.close()
    closed = len(log)
    await app.close()
    assert len(log) == closed
    with pytest.raises(RuntimeError, match="closed"):
        await app.get("root.root")


async def test_global_modules_start_first() -> None:
    log: list[str] = []
    async with await Application.create(
        RootModule.for_root(log=log),
        extra=[MidModule.for_root(log=log), LeafModule.for_root(log=log), SettingsModule],
    ) as app:
        assert app.modules == ("settings", "leaf", "mid", "root")


@pytest.mark.parametrize(
    ("failing", "module", "provider"),
    [
        ("open pool", "mid", "pool"),
        ("init mid", "mid", "svc"),
        ("bootstrap mid", "mid", "svc"),
    ],
)
async def test_failed_startup_undoes_exactly_what_started_in_reverse(
    failing: str, module: str, provider: str
) -> None:
    log: list[str] = []
    with pytest.raises(ModuleInitError) as caught:
        await start(log, fail={failing})
    assert (caught.value.module, caught.value.provider) == (module, provider)
    assert str(caught.value) == (
        f"module {module!r} failed to initialise {provider!r}: RuntimeError: {failing} failed"
    )
    assert isinstance(caught.value.__cause__, RuntimeError)
    started = log[: log.index(failing) + 1]
    assert started == STARTUP[: STARTUP.index(failing) + 1]
    undone = log[len(started) :]
    expected = {
        # `pool` failed to open: only `leaf` and its `conn` had started.
        "open pool": [
            "destroy leaf",
            "before leaf None",
            "shutdown leaf None",
            "close conn",
        ],
        # `mid`'s resources are open but its service never finished `on_module_init`.
        "init mid": [
            "destroy leaf",
            "before leaf None",
            "shutdown leaf None",
            "close cache",
            "close pool",
            "close conn",
        ],
        # Everything was initialised; the shutdown sequence covers all of it.
        "bootstrap mid": [
            "destroy root",
            "destroy mid",
            "destroy leaf",
            "before root None",
            "before mid None",
            "before leaf None",
            "shutdown root None",
            "shutdown mid None",
            "shutdown leaf None",
            "close cache",
            "close pool",
            "close conn",
        ],
    }[failing]
    assert undone == expected


async def test_failing_shutdown_steps_are_logged_and_the_rest_still_runs() -> None:
    log: list[str] = []
    app = await start(log, fail={"destroy mid", "close pool"})
    log.clear()
    with capture_logs() as logs:
        await app.close()
    assert "destroy leaf" in log
    assert log[-2:] == ["close pool", "close conn"]
    failures = [(e["module"], e["provider"], e["step"]) for e in logs if e["log_level"] == "error"]
    assert failures == [("mid", "svc", "on_module_destroy"), ("mid", "pool", "shutdown")]
    assert all(e["event"] == "shutdown step failed" for e in logs)


async def test_shutdown_gives_up_at_the_deadline() -> None:
    log: list[str] = []
    app = await start(log, hang=True, deadline=0.05)
    log.clear()
    begun = time.monotonic()
    with capture_logs() as logs:
        await app.close()
    assert time.monotonic() - begun < 1
    assert log[-1] == "shutdown root None"  # it hangs there; the rest is skipped
    (entry,) = logs
    assert entry["event"] == "shutdown deadline exceeded"
    assert (entry["module"], entry["provider"], entry["step"]) == (
        "root",
        "root",
        "on_application_shutdown",
    )
    assert entry["skipped"] == 5


async def test_a_hook_shared_by_two_providers_runs_once() -> None:
    log: list[str] = []

    class AliasModule(Module):
        class Container(containers.DeclarativeContainer):
            options = providers.Dependency()
            svc = providers.Singleton(Service, options, "alias")
            same = svc

    async with await Application.create(AliasModule.for_root(log=log)):
        assert log == ["init alias", "bootstrap alias"]


async def test_mocks_and_plain_values_have_no_hooks() -> None:
    class ValueModule(Module):
        class Container(containers.DeclarativeContainer):
            mock = providers.Singleton(MagicMock)
            number = providers.Singleton(int, 3)

    async with await Application.create(ValueModule) as app:
        assert await app.get("value.number") == 3


async def test_concurrent_closes_both_wait_for_the_one_shutdown() -> None:
    log: list[str] = []
    app = await start(log)
    log.clear()
    await asyncio.gather(app.close(), app.close())
    assert log.count("close conn") == 1
    assert log[-1] == "close conn"
