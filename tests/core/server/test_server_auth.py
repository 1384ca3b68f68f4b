"""Every unauthorised attempt is refused before `accept`, sends no event and says nothing."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import pytest
from batchery.app import build_application
from batchery.server.app import create_app
from batchery.server.wire import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    SUBPROTOCOL,
    TICKET_PREFIX,
)
from batchery.settings import Settings
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from .conftest import ORIGIN, TOKENS, Served, ServerFactory, bearer, server_config, synthetic_run


async def _ticket(served: Served, run_id: str, tenant: str = "acme") -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            served.url + "/api/ws-tickets", json={"run_id": run_id}, headers=bearer(tenant)
        ) as response,
    ):
        assert response.status == 201
        body = await response.json()
        assert body["run_id"] == run_id
        return str(body["ticket"])


async def _attempt(
    served: Served,
    run_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    protocols: tuple[str, ...] = (SUBPROTOCOL,),
    params: Mapping[str, str] | None = None,
) -> int:
    """Try to open the feed; the refusal's HTTP status (fails if it was accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            socket = await session.ws_connect(
                served.ws_url(run_id), headers=headers, protocols=protocols, params=params
            )
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await socket.close()
        pytest.fail("the socket was accepted")


async def test_refusals_before_accept(served: Served) -> None:
    mine = await synthetic_run(served.service, "acme")
    theirs = await synthetic_run(served.service, "globex")
    good = bearer("acme")
    wrong = {"Authorization": "Bearer tok-nobody"}
    cases: list[tuple[str, int, dict[str, object]]] = [
        ("no token", 401, {"run_id": mine}),
        ("bad token", 401, {"run_id": mine, "headers": wrong}),
        ("basic auth", 401, {"run_id": mine, "headers": {"Authorization": "Basic eDp5"}}),
        ("wrong tenant", 404, {"run_id": theirs, "headers": good}),
        ("unknown run", 404, {"run_id": "run_nope", "headers": good}),
        ("bad origin", 403, {"run_id": mine, "headers": {**good, "Origin": "http://evil.test"}}),
        ("no subprotocol", 400, {"run_id": mine, "headers": good, "protocols": ()}),
        ("bad after_seq", 400, {"run_id": mine, "headers": good, "params": {"after_seq": "-1"}}),
    ]
    for name, status, kwargs in cases:
        run_id = str(kwargs.pop("run_id"))
        assert await _attempt(served, run_id, **kwargs) == status, name  # type: ignore[arg-type]


async def test_a_refusal_says_one_word(served: Served) -> None:
    """The refusal's body, read as a plain HTTP response to the upgrade request."""
    run_id = await synthetic_run(served.service, "globex")
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": SUBPROTOCOL,
    }
    async with aiohttp.ClientSession() as session:
        for headers, status, body in (
            ({"Authorization": f"Bearer {TOKENS['acme']}x"}, 401, "unauthorized"),
            (bearer("acme"), 404, "not found"),
        ):
            async with session.get(served.ws_url(run_id), headers=upgrade | headers) as response:
                assert response.status == status
                assert await response.text() == body


async def test_tickets_are_single_use_bound_to_run_tenant_and_origin(served: Served) -> None:
    mine = await synthetic_run(served.service, "acme")
    other = await synthetic_run(served.service, "acme")
    origin = {"Origin": ORIGIN}

    ticket = await _ticket(served, mine)
    offered = (SUBPROTOCOL, TICKET_PREFIX + ticket)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(served.ws_url(mine), headers=origin, protocols=offered) as socket,
    ):
        assert socket.protocol == SUBPROTOCOL
        assert (await socket.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT
    assert (await _attempt(served, mine, headers=origin, protocols=offered)) == 401

    wrong_run = (SUBPROTOCOL, TICKET_PREFIX + await _ticket(served, mine))
    assert (await _attempt(served, other, headers=origin, protocols=wrong_run)) == 401

    no_origin = (SUBPROTOCOL, TICKET_PREFIX + await _ticket(served, mine))
    assert (await _attempt(served, mine, protocols=no_origin)) == 403
    evil = {"Origin": "http://page.test.evil.test"}
    assert (await _attempt(served, mine, headers=evil, protocols=no_origin)) == 403

    forged = (SUBPROTOCOL, TICKET_PREFIX + "A" * 43)
    assert (await _attempt(served, mine, headers=origin, protocols=forged)) == 401


async def test_an_expired_ticket_is_refused(open_server: ServerFactory) -> None:
    async with open_server(ticket_ttl_s=0.05) as served:
        run_id = await synthetic_run(served.service, "acme")
        ticket = await _ticket(served, run_id)
        await asyncio.sleep(0.1)
        offered = (SUBPROTOCOL, TICKET_PREFIX + ticket)
        assert await _attempt(served, run_id, headers={"Origin": ORIGIN}, protocols=offered) == 401


async def test_tickets_are_only_issued_for_the_callers_runs(served: Served) -> None:
    theirs = await synthetic_run(served.service, "globex")
    async with aiohttp.ClientSession() as session:
        for headers, status in ((bearer("acme"), 404), ({}, 401)):
            async with session.post(
                served.url + "/api/ws-tickets", json={"run_id": theirs}, headers=headers
            ) as response:
                assert response.status == status


async def test_the_connection_caps_refuse_with_429(open_server: ServerFactory) -> None:
    async with open_server(max_per_ip=2) as served:
        run_id = await synthetic_run(served.service, "acme")
        async with aiohttp.ClientSession() as session:
            sockets = [
                await session.ws_connect(
                    served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
                )
                for _ in range(2)
            ]
            assert (await _attempt(served, run_id, headers=bearer("acme"))) == 429
            for socket in sockets:
                await socket.close()
            await asyncio.sleep(0.05)
            again = await session.ws_connect(
                served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
            )
            await again.close()


async def test_rest_routes_need_a_token_and_hide_other_tenants_runs(served: Served) -> None:
    mine = await synthetic_run(served.service, "acme")
    theirs = await synthetic_run(served.service, "globex")
    async with aiohttp.ClientSession() as session:
        async with session.get(served.url + "/api/runs") as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        async with session.get(served.url + "/api/runs", headers=bearer("acme")) as response:
            ids = [run["run_id"] for run in (await response.json())["runs"]]
            assert mine in ids
            assert theirs not in ids
        for path in (f"/api/runs/{theirs}", f"/api/runs/{theirs}/results"):
            async with session.get(served.url + path, headers=bearer("acme")) as response:
                assert response.status == 404
        async with session.post(
            served.url + f"/api/runs/{theirs}/cancel", headers=bearer("acme")
        ) as response:
            assert response.status == 404


def test_without_the_denial_extension_refusals_are_close_codes(tmp_path: Path) -> None:
    """Under an ASGI server without denial responses the socket is closed with 4000 + status,
    still before `accept`; the app also starts and stops an application it was given to build.
    """
    settings = Settings(store=str(tmp_path / "jobs.db"))
    app = create_app(server_config(), functools.partial(build_application, settings, only=[]))
    with TestClient(app) as client:
        for headers, code in (({}, CLOSE_UNAUTHORIZED), (bearer("acme"), CLOSE_NOT_FOUND)):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect(
                    "/api/runs/run_x/events", headers=headers, subprotocols=[SUBPROTOCOL]
                ),
            ):
                pass
            assert refused.value.code == code
            assert refused.value.detail in ("unauthorized", "not found")


PUBLIC = {"/", "/health", "/metrics", "/static/app.js", "/static/style.css"}
"""The routes anyone may reach (besides the OpenAPI schema under `/schema`)."""


async def test_every_api_route_refuses_a_caller_without_a_token_before_reading_anything(
    served: Served,
) -> None:
    """Malformed bodies and parameters get 401, not 400: credentials are checked first."""
    app = served.server.server.config.app
    routes = [(route.path, method) for route in app.routes for method in route.methods]
    api = [
        (re.sub(r"\{[^}]*\}", "run_x", path), method)
        for path, method in routes
        if path.startswith("/api") and method not in ("HEAD", "OPTIONS")
    ]
    assert ("/api/ws-tickets", "POST") in api
    assert {path for path, _ in routes if not path.startswith(("/api", "/schema"))} <= PUBLIC
    async with aiohttp.ClientSession() as session:
        for path, method in api:
            async with session.request(
                method,
                served.url + path,
                params={"limit": "many", "offset": "-1", "after_seq": "x"},
                data=b'{"run_id": ',
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 401, (method, path, response.status)
                assert await response.json() == {"status_code": 401, "detail": "unauthorized"}
    run_id = await synthetic_run(served.service, "acme")
    refused = await _attempt(served, run_id, protocols=(), params={"after_seq": "-1"})
    assert refused == 401
