"""A small base for serving an emulator's aiohttp application over real HTTP on loopback."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import ClassVar, Self

from aiohttp import web

from batchery.endpoints import EMULATOR_HEADER

__all__ = ["EmulatorServer"]


class EmulatorServer(abc.ABC):
    """Runs the application that `build_app` returns; `base_url` adds the provider's path prefix.

    Port 0 picks a free port, so tests can run emulators side by side. No access log is kept:
    request lines and headers may carry keys, which must never be written anywhere.
    """

    base_path: ClassVar[str] = ""
    shutdown_timeout: ClassVar[float] = 0.5

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None

    @abc.abstractmethod
    def build_app(self) -> web.Application:
        """The application to serve; called once per `start`."""

    @property
    def root_url(self) -> str:
        """Scheme, host and port, without the provider's path prefix."""
        if self._root_url is None:
            raise RuntimeError("the emulator is not started; call start() or use `async with`")
        return self._root_url

    @property
    def base_url(self) -> str:
        return self.root_url + self.base_path

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")
        app = self.build_app()
        app.on_response_prepare.append(_mark_emulated)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.shutdown_timeout,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self._runner = runner
        self._root_url = f"http://{shown}:{bound_port}"

    async def close(self) -> None:
        """Stop serving; closing twice, or before `start`, is harmless."""
        runner, self._runner, self._root_url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _mark_emulated(_: web.Request, response: web.StreamResponse) -> None:
    response.headers[EMULATOR_HEADER] = "1"
