"""Which endpoint a provider talks to, so answers, history and spend stay with it.

An endpoint is the provider, its base URL in one canonical spelling, and whether a Batchery
emulator serves it. Every emulator answers with `EMULATOR_HEADER`, so one reached over
`--base-url` on this machine is known for what it is, the same as one started by `--emulate`.
Keys are never part of an endpoint, and credentials in a URL are dropped.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from batchery.model import Endpoint
from batchery.spi import ProviderInfo

__all__ = ["EMULATOR_HEADER", "endpoint_of", "normalise_base_url", "serves_emulator"]

EMULATOR_HEADER = "x-batchery-emulator"
"""Set on every response of a Batchery emulator, so a client can tell it from a real API."""

_PROBE_TIMEOUT_S = 2.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_base_url(url: str) -> str:
    """One spelling per base URL: lower-case scheme and host, no default port, no trailing
    slash, and no credentials, query or fragment (which may carry secrets)."""
    parts = urlsplit(url.strip())
    host = parts.hostname
    if not parts.scheme or host is None:
        return url.strip().split("?")[0].split("#")[0].rstrip("/")
    scheme = parts.scheme.lower()
    port = parts.port
    shown_port = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}{shown_port}{parts.path.rstrip('/')}"


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serves_emulator(base_url: str) -> bool:
    """Whether a Batchery emulator answers at `base_url`; only loopback URLs are asked, once,
    without a key, so a remote server never sees the probe."""
    if not _loopback(base_url):
        return False
    timeout = aiohttp.ClientTimeout(total=_PROBE_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(base_url, allow_redirects=False) as reply,
        ):
            return EMULATOR_HEADER in reply.headers
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False


async def endpoint_of(
    info: ProviderInfo,
    options: Mapping[str, object],
    *,
    environ: Mapping[str, str] | None = None,
) -> Endpoint:
    """The endpoint a provider built with `options` reaches: its `base_url` option, else the
    provider's base-URL variable, else the provider's own public host (None)."""
    env = os.environ if environ is None else environ
    given = options.get("base_url")
    url = given if isinstance(given, str) and given else None
    if url is None and info.base_url_env:
        url = env.get(info.base_url_env) or None
    if url is None:
        return Endpoint(provider=info.name)
    base_url = normalise_base_url(url)
    return Endpoint(provider=info.name, base_url=base_url, emulated=await serves_emulator(url))
