"""Who is calling: a bearer token (programs) or a single-use ticket (browsers), and from where.

Every refusal looks the same from outside (`unauthorized`), whether the token is missing,
malformed or unknown, so probing learns nothing; the token itself is only ever hashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

from batchery.server.config import hash_token

__all__ = ["AUTHENTICATOR", "Authenticator", "Caller", "authenticated", "bearer_of"]

AUTHENTICATOR: Final = "batchery.authenticator"
"""The key of the app's `Authenticator` in the application state."""


class Caller(msgspec.Struct, frozen=True):
    """An authenticated caller; everything it may see belongs to `tenant`."""

    tenant: str


def bearer_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what was sent."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class Authenticator:
    """Maps tokens to tenants and decides which Origins a browser may connect from."""

    def __init__(self, tokens: Mapping[str, str], allowed_origins: tuple[str, ...]) -> None:
        self._tokens = dict(tokens)
        self._origins = frozenset(allowed_origins)

    def tenant_of(self, token: str | None) -> str | None:
        if not token or len(token) > 512:
            return None
        return self._tokens.get(hash_token(token))

    def origin_allowed(self, origin: str | None, *, required: bool) -> bool:
        """Exact match against the allowlist; programs may omit the header, browsers may not."""
        if origin is None:
            return not required
        return origin in self._origins

    async def caller(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
        """The HTTP caller, or 401 with a body that says nothing more."""
        tenant = self.tenant_of(bearer_of(connection))
        if tenant is None:
            raise NotAuthorizedException(
                "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="batchery"'}
            )
        return Caller(tenant)


async def authenticated(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: 401 before a route reads its parameters or body, so a caller without a valid
    token learns nothing from how its request would have been judged."""
    authenticator: Authenticator = connection.app.state[AUTHENTICATOR]
    await authenticator.caller(connection)
