"""Single-use WebSocket tickets for browsers, which cannot send an Authorization header.

A ticket is 256 random bits, bound to one tenant and one run, redeemable once within a short
TTL. Only its hash is kept, in memory for one instance or in Redis when several instances share
the load (a ticket issued by one instance is then redeemable on any).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from typing import Final, Protocol, runtime_checkable

import msgspec
from redis.asyncio import Redis

from batchery.server.wire import Ticket

__all__ = ["MemoryTickets", "RedisTickets", "Tickets"]

_MAX_OUTSTANDING: Final = 100_000


class _Grant(msgspec.Struct, frozen=True):
    tenant: str
    run_id: str
    expires_at: float


def _key(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@runtime_checkable
class Tickets(Protocol):
    async def issue(self, tenant: str, run_id: str) -> Ticket: ...

    async def redeem(self, ticket: str, run_id: str) -> str | None:
        """The tenant the ticket was issued to, if it is valid for `run_id`; it is spent
        either way."""
        ...


class MemoryTickets:
    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._grants: OrderedDict[str, _Grant] = OrderedDict()

    async def issue(self, tenant: str, run_id: str) -> Ticket:
        now = time.monotonic()
        while self._grants:
            oldest = next(iter(self._grants.values()))
            if oldest.expires_at > now and len(self._grants) < _MAX_OUTSTANDING:
                break
            self._grants.popitem(last=False)
        ticket = secrets.token_urlsafe(32)
        self._grants[_key(ticket)] = _Grant(tenant, run_id, now + self._ttl_s)
        return Ticket(ticket=ticket, run_id=run_id, expires_in_s=self._ttl_s)

    async def redeem(self, ticket: str, run_id: str) -> str | None:
        grant = self._grants.pop(_key(ticket), None)
        if grant is None or grant.expires_at <= time.monotonic() or grant.run_id != run_id:
            return None
        return grant.tenant


class RedisTickets:
    """Tickets in Redis: `SET ... EX ttl` to issue, `GETDEL` to redeem exactly once."""

    def __init__(self, redis: Redis, ttl_s: float, *, prefix: str = "batchery:ticket:") -> None:
        self._redis = redis
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._prefix = prefix

    async def issue(self, tenant: str, run_id: str) -> Ticket:
        ticket = secrets.token_urlsafe(32)
        grant = msgspec.json.encode(_Grant(tenant, run_id, 0.0))
        await self._redis.set(self._prefix + _key(ticket), grant, px=self._ttl_ms)
        return Ticket(ticket=ticket, run_id=run_id, expires_in_s=self._ttl_ms / 1000)

    async def redeem(self, ticket: str, run_id: str) -> str | None:
        raw = await self._redis.getdel(self._prefix + _key(ticket))
        if raw is None:
            return None
        grant = msgspec.json.decode(raw, type=_Grant)
        return grant.tenant if grant.run_id == run_id else None
