import aiohttp
import pytest
from aiohttp import web
from batchery.emulator import EmulatorServer, estimate_tokens


class PingServer(EmulatorServer):
    base_path = "/api"

    def build_app(self) -> web.Application:
        async def ping(request: web.Request) -> web.Response:
            return web.json_response({"pong": True})

        app = web.Application()
        app.router.add_get("/api/ping", ping)
        return app


async def test_serves_on_a_free_loopback_port() -> None:
    async with PingServer() as server, aiohttp.ClientSession() as http:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.base_url.endswith("/api")
        async with http.get(server.base_url + "/ping") as response:
            assert await response.json() == {"pong": True}
    assert not server.started


async def test_base_url_needs_a_started_server_and_close_is_idempotent() -> None:
    server = PingServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    await server.start()
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()
    await server.close()
    await server.close()


def test_token_estimate_is_about_four_characters_a_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("x" * 400) == 100
