"""How a server instance is set up: who may call it, from where, and how hard it may be pushed.

Tokens are never stored: the configuration maps the SHA-256 of each token to its tenant, so a
leaked configuration file grants nothing. A tokens file is TOML::

    default_tenant = "acme"            # optional: runs with no recorded owner belong to it
    allowed_origins = ["https://progress.example.com"]

    [tokens]
    "sha256:9f86d08188...": "acme"
    "sha256:60303ae22b...": "globex"

`batchery serve` without a tokens file makes one token for the tenant `default` and prints it.
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Final

import msgspec

__all__ = ["ServerConfig", "TokensFile", "hash_token", "new_token", "read_tokens_file"]

_HASH_PREFIX: Final = "sha256:"

_Positive = Annotated[int, msgspec.Meta(ge=1)]
_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_Rate = Annotated[float, msgspec.Meta(gt=0)]


def hash_token(token: str) -> str:
    """The form a token is configured and compared in: `sha256:<hex>`."""
    return _HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh API token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `create_app` needs besides the application itself.

    Attributes:
        tokens: `sha256:<hex>` of each API token -> the tenant it acts for.
        default_tenant: owner of runs that were not started on behalf of a tenant (runs made by
            `batchery run` in another process, for instance); None hides such runs.
        allowed_origins: exact `scheme://host[:port]` values a browser may connect from.
        redis_url: fan events out through Redis so several instances serve every subscriber;
            None keeps them in memory.
        owners_path: SQLite file recording which tenant owns which run.
        store_url: the job store's URL, whose work queue `POST /api/runs` queues runs in (a
            PostgreSQL store with `batchery-queue` installed; without one the route says so).
        ticket_ttl_s: how long a WebSocket ticket stays redeemable.
        max_connections / max_per_tenant / max_per_ip: WebSocket caps on this instance.
        ring_size: events kept per followed run; a socket further behind is told to resync.
        send_timeout_s: a socket that cannot take a frame within this is closed as slow.
        flush_interval_s: the least time between two frames to one socket (batches events).
        frames_per_s: frames per second one run's feed may send over all its sockets; with
            many sockets the time between frames grows past `flush_interval_s` to stay under.
        poll_interval_s: how long a followed, unfinished run may stay silent before its log is
            read (catches runs driven by another process and events a backend dropped).
        max_frame_events: events per frame at most.
        max_frame_bytes: encoded event bytes per frame at most (a frame holds one event even
            when that one is larger); with the server's write buffer this bounds what waits for
            one socket.
    """

    tokens: dict[str, str] = msgspec.field(default_factory=dict)
    default_tenant: str | None = None
    allowed_origins: tuple[str, ...] = ()
    redis_url: str | None = None
    owners_path: str | None = None
    store_url: str | None = None
    ticket_ttl_s: _Seconds = 30.0
    max_connections: _Positive = 10_000
    max_per_tenant: _Positive = 2_000
    max_per_ip: _Positive = 2_000
    ring_size: _Positive = 2_048
    send_timeout_s: _Seconds = 5.0
    flush_interval_s: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    frames_per_s: _Rate = 2_500.0
    poll_interval_s: _Seconds = 1.0
    max_frame_events: _Positive = 500
    max_frame_bytes: _Positive = 64 * 1024

    def __post_init__(self) -> None:
        for key in self.tokens:
            if not key.startswith(_HASH_PREFIX) or len(key) != len(_HASH_PREFIX) + 64:
                raise ValueError("tokens are configured as 'sha256:<64 hex digits>' keys")
        for origin in self.allowed_origins:
            if origin.endswith("/") or "://" not in origin:
                raise ValueError(f"allowed origin {origin!r} must be scheme://host[:port]")


class TokensFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tokens: dict[str, str] = msgspec.field(default_factory=dict)
    default_tenant: str | None = None
    allowed_origins: tuple[str, ...] = ()


def read_tokens_file(path: Path) -> TokensFile:
    """Parse a tokens file; errors name the file, never a value from it."""
    try:
        raw = tomllib.loads(path.read_text())
        return msgspec.convert(raw, TokensFile)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: not a valid tokens file ({type(exc).__name__})") from None
