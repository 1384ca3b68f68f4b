"""`create_app`: the Litestar server around a Batchery application.

Routes: REST under `/api` (bearer token; `POST /api/runs` queues a workload), the run feed at
`/api/runs/{run_id}/events` (WebSocket), the live page at `/`, `/health`, Prometheus at
`/metrics` and the OpenAPI schema at `/schema` (`/schema/openapi.json`). Events fan out through
Litestar's channels plugin: in memory for one instance, through Redis when `redis_url` is set so
every instance reaches its own subscribers. Debug stays off, so no error ever carries a
traceback to a client.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from litestar import Litestar, WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.di import NamedDependency
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from redis.asyncio import Redis

from batchery.server.config import ServerConfig
from batchery.server.node_runs import NodeRunsController
from batchery.server.ops import health, internal_error
from batchery.server.page import page_routes
from batchery.server.plugin import ApplicationSource, BatcheryPlugin
from batchery.server.rest import RunsController
from batchery.server.websocket import FeedGate

__all__ = ["create_app"]


@websocket("/api/runs/{run_id:str}/events", name="run_events")
async def run_events(
    socket: WebSocket[Any, Any, Any], run_id: FromPath[str], feed_gate: NamedDependency[FeedGate]
) -> None:
    """Authorise, then replay and follow one run (see `batchery.server.websocket`)."""
    await feed_gate.serve(socket, run_id)


def create_app(config: ServerConfig, application: ApplicationSource) -> Litestar:
    """The server for `application`: a running one, or a factory the server starts and stops."""
    redis = Redis.from_url(config.redis_url) if config.redis_url else None
    backend: ChannelsBackend = (
        RedisChannelsPubSubBackend(redis=redis, key_prefix="batchery")
        if redis is not None
        else MemoryChannelsBackend()
    )
    channels = ChannelsPlugin(
        backend,
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=config.ring_size,
        subscriber_backlog_strategy="dropleft",
    )
    prometheus = PrometheusConfig(app_name="batchery", prefix="batchery", group_path=True)
    return Litestar(
        route_handlers=[
            RunsController,
            NodeRunsController,
            run_events,
            health,
            PrometheusController,
            *page_routes(),
        ],
        plugins=[channels, BatcheryPlugin(config, application, channels, redis)],
        middleware=[prometheus.middleware],
        exception_handlers={500: internal_error},
        openapi_config=OpenAPIConfig(
            title="Batchery",
            version=version("batchery"),
            path="/schema",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
        logging_config=None,
        debug=False,
    )
