"""Caps on WebSocket connections: in total, per tenant and per client address.

The address is the socket's peer as the ASGI server reports it; forwarded headers are never
read, so a client cannot spoof its way around the per-address cap.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ConnectionLimits"]


class ConnectionLimits:
    def __init__(self, *, total: int, per_tenant: int, per_ip: int) -> None:
        self._total = total
        self._per_tenant = per_tenant
        self._per_ip = per_ip
        self._tenants: Counter[str] = Counter()
        self._ips: Counter[str] = Counter()
        self.open = 0

    def acquire(self, tenant: str, ip: str) -> bool:
        """Take a slot for one connection, or say no without taking anything."""
        if (
            self.open >= self._total
            or self._tenants[tenant] >= self._per_tenant
            or self._ips[ip] >= self._per_ip
        ):
            return False
        self.open += 1
        self._tenants[tenant] += 1
        self._ips[ip] += 1
        return True

    def release(self, tenant: str, ip: str) -> None:
        self.open -= 1
        for counter, key in ((self._tenants, tenant), (self._ips, ip)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
