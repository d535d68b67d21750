"""Who is calling: the principal an access token stands for, and the guard that checks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from msnet.errors import InsufficientScope, Unauthenticated

SCOPES = (
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "roster:contact",
    "requests:read",
    "requests:write",
    "training:read",
    "training:write",
    "audit:read",
    "org:admin",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, from a verified access token."""

    org_id: UUID
    org_slug: str
    client_id: str
    scopes: frozenset[str]
    jti: str
    expires_at: int

    @property
    def actor(self) -> str:
        return f"client:{self.client_id}"


def bearer_challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401 or 403 (RFC 6750)."""
    parts = ['Bearer realm="msnet"']
    if error:
        parts.append(f'error="{error}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def principal_of(connection: ASGIConnection) -> Principal:
    principal = connection.scope.get("auth")
    if not isinstance(principal, Principal):
        raise Unauthenticated("an access token is required", headers=bearer_challenge())
    return principal


def requires(*scopes: str) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A guard: a valid token holding every one of ``scopes``; 401 without a token, 403 without a scope."""
    needed = frozenset(scopes)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not needed <= principal.scopes:
            missing = " ".join(sorted(needed - principal.scopes))
            raise InsufficientScope(
                f"this needs the scope {missing}",
                headers=bearer_challenge("insufficient_scope", " ".join(sorted(needed))),
            )

    return guard


async def provide_principal(request: ASGIConnection) -> Principal:
    return principal_of(request)
