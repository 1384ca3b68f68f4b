"""`batchery serve`: the progress server over the job store (REST, WebSocket feed, live page).

It follows every run in the store, including runs that `batchery run` drives from another
process against the same store: their events are read from the store's log.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click
import uvicorn

from batchery.app import build_application
from batchery.cli._common import settings_from
from batchery.cli._errors import CliError
from batchery.cli._exit import ExitCode
from batchery.server.app import create_app
from batchery.server.config import ServerConfig, hash_token, new_token, read_tokens_file
from batchery.server.serving import bind, origin_of, uvicorn_config
from batchery.settings import default_store_url

__all__ = ["serve_command"]

_DEFAULT_TENANT = "default"


def _owners_path(store_url: str) -> str:
    """The run-owner table lives beside a SQLite job store, and beside the default one when
    the store is a database server (never in a path made from its URL)."""
    if "://" in store_url and not store_url.startswith("sqlite:///"):
        store_url = default_store_url()
    return store_url.removeprefix("sqlite:///") + ".owners"


def _own_origins(host: str, port: int) -> tuple[str, ...]:
    names = {host}
    if host in ("127.0.0.1", "localhost", "0.0.0.0"):  # noqa: S104 -- compared, not bound
        names |= {"127.0.0.1", "localhost"}
    return tuple(sorted(f"http://{name}:{port}" for name in names))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of token hashes per tenant (default: one new token, printed once).",
)
@click.option("--allow-origin", multiple=True, help="Extra browser origin allowed (repeatable).")
@click.option("--redis", "redis_url", help="Redis URL: fan events out across instances.")
@click.option("--owners", "owners_path", help="Run-owner table (default: beside the store).")
@click.option("--trusted-proxy", multiple=True, help="Proxy address whose X-Forwarded-For counts.")
@click.option(
    "--provider",
    "provider_names",
    multiple=True,
    help="Provider to load for cancelling runs (repeatable; default: the default provider).",
)
@click.option("--store", help="Job store path or URL (default: BATCHERY_STORE or user data).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings.")
def serve_command(
    host: str,
    port: int,
    tokens_file: Path | None,
    allow_origin: tuple[str, ...],
    redis_url: str | None,
    owners_path: str | None,
    trusted_proxy: tuple[str, ...],
    provider_names: tuple[str, ...],
    store: str | None,
    config_file: str | None,
) -> None:
    """Serve run progress: REST snapshots, a WebSocket feed per run and a live page."""
    loaded = settings_from(config_file, {"store": store}, server=True)
    try:
        listener = bind(host, port)
    except OSError as exc:
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port",
            ExitCode.ENVIRONMENT,
        ) from None
    bound = listener.getsockname()[1]
    base = origin_of(listener)
    origins = _own_origins(host, bound) + allow_origin
    printed: str | None = None
    if tokens_file is not None:
        try:
            given = read_tokens_file(tokens_file)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        tokens, default_tenant = given.tokens, given.default_tenant
        origins += given.allowed_origins
    else:
        printed = new_token()
        tokens, default_tenant = {hash_token(printed): _DEFAULT_TENANT}, _DEFAULT_TENANT
    try:
        config = ServerConfig(
            tokens=tokens,
            default_tenant=default_tenant,
            allowed_origins=origins,
            redis_url=redis_url,
            owners_path=owners_path or _owners_path(loaded.settings.store_url()),
            store_url=loaded.settings.store_url(),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    chosen = list(provider_names) or [loaded.settings.default_provider]
    app = create_app(config, functools.partial(build_application, loaded.settings, only=chosen))
    server = uvicorn.Server(
        uvicorn_config(app, host=host, port=bound, trusted_proxies=trusted_proxy)
    )

    click.echo(f"listening on {base}")
    if printed is not None:
        click.echo(f"token for tenant {_DEFAULT_TENANT!r}: {printed}")
        click.echo(f"live page: {base}/#token={printed}")
    server.run(sockets=[listener])
