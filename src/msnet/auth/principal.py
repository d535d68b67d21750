"""Who is calling: the principal an access token stands for, and the guard that checks it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db.engine import ORG_KEY
from msnet.errors import Forbidden, InsufficientScope, Unauthenticated

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
#: The scope of a peer node's tokens (msnet.federation): only the federation endpoints take it, and
#: no organisation's client may hold it.
NODE_SCOPE = "federation"


PrincipalKind = Literal["client", "person", "node", "operator"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, for one organisation: an OAuth client of it (from an access token), a person
    its identity provider signed in, a peer node acting for one of the organisations homed there, or
    the node's operator (the command line and the demo loader). Services take it, the audit log
    names it (``actor``), row-level security reads ``org_id``."""

    org_id: UUID
    org_slug: str
    #: the client id; ``issuer#subject`` for a person; the issuer URL for a node; the command for
    #: the operator
    subject: str
    scopes: frozenset[str]
    #: what it acts under: the access token's ``jti``, or the person's session
    credential: str
    expires_at: int
    kind: PrincipalKind = "client"

    @classmethod
    def operator(cls, org_id: UUID, org_slug: str, command: str) -> Principal:
        """The node's operator acting for an organisation with every scope, through ``command``."""
        return cls(org_id, org_slug, command, frozenset(SCOPES), command, 2**31 - 1, "operator")

    @property
    def actor(self) -> str:
        """How the audit log names it: ``client:ID``, ``person:ISSUER#SUBJECT``, ``node:URL``, or
        ``operator``."""
        return "operator" if self.kind == "operator" else f"{self.kind}:{self.subject}"

    @property
    def deny_keys(self) -> list[str]:
        """Its entries in the deny list, should its token be revoked or its client deleted; a
        person's session ends on the server, so it has none."""
        if self.kind in ("person", "operator"):
            return []
        return [f"jti:{self.credential}", self.actor]


def bearer_challenge(
    error: str | None = None, scope: str | None = None, description: str | None = None
) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401 or 403 (RFC 6750)."""
    parts = ['Bearer realm="msnet"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def principal_of(connection: ASGIConnection) -> Principal:
    principal = connection.scope.get("auth")
    if not isinstance(principal, Principal):
        raise Unauthenticated("an access token is required", headers=bearer_challenge())
    return principal


def requires(*scopes: str) -> Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]:
    """A guard: a valid token holding every one of ``scopes``; 401 without a token, 403 (audited)
    without a scope."""
    needed = frozenset(scopes)

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not needed <= principal.scopes:
            missing = " ".join(sorted(needed - principal.scopes))
            await audit_denial(connection.scope, principal, f"missing scope {missing}")
            raise InsufficientScope(
                f"this needs the scope {missing}",
                headers=bearer_challenge(
                    "insufficient_scope", " ".join(sorted(needed)), f"this needs the scope {missing}"
                ),
            )

    guard.scopes = needed  # type: ignore[attr-defined]  # what the OpenAPI document says it needs
    return guard


def reads(scope_name: str) -> Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]:
    """A guard for reads of records that may be public: no token sees public records only; a token
    must hold ``scope_name`` (403, audited, otherwise)."""
    scoped = requires(scope_name)

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        if connection.scope.get("auth") is not None:
            await scoped(connection, handler)

    guard.scopes = frozenset((scope_name,))  # type: ignore[attr-defined]
    guard.token_optional = True  # type: ignore[attr-defined]
    return guard


def optional_principal(connection: ASGIConnection) -> Principal | None:
    principal = connection.scope.get("auth")
    return principal if isinstance(principal, Principal) else None


async def provide_optional_principal(
    request: ASGIConnection, db: NamedDependency[AsyncSession]
) -> Principal | None:
    """A handler's ``viewer``: the caller, or none. It takes ``db`` (unused) so that Litestar resolves
    it after the request's transaction, not beside it: Litestar resolves dependencies of one level
    together in an anyio task group of their own (litestar#4563), about 0.4 M instructions a request
    (an office PATCH: 5.11 M with ``principal`` beside ``db``, 4.70 M after it). Every handler that
    takes a ``viewer`` or a ``principal`` takes ``db`` too, so none opens a transaction for it."""
    return optional_principal(request)


async def own_organisation(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A guard for /v1/organisations/{slug}/…: the caller must act for that organisation (403, audited)."""
    principal = principal_of(connection)
    slug = connection.path_params.get("slug")
    if slug != principal.org_slug:
        await audit_denial(connection.scope, principal, f"acts for '{principal.org_slug}', not '{slug}'")
        raise Forbidden(f"this client acts for '{principal.org_slug}', not '{slug}'")


async def audit_denial(scope: Any, principal: Principal, reason: str) -> None:
    """A denied request, recorded in a transaction of its own: guards run before the request's
    own transaction begins, so this never waits for a second connection while holding one."""
    from msnet.audit.service import audit_event, record

    async with scope["app"].state.sessionmaker() as session:
        session.info[ORG_KEY] = principal.org_id
        async with session.begin():
            await record(
                session,
                audit_event(
                    scope,
                    action="access.denied",
                    resource_type="route",
                    resource_id=f"{scope['method']} {scope.get('path_template') or scope['path']}",
                    outcome="denied",
                    principal=principal,
                    payload={"reason": reason},
                ),
            )


async def provide_principal(request: ASGIConnection, db: NamedDependency[AsyncSession]) -> Principal:
    """A handler's ``principal``, which its guards have made sure of; after ``db``, not beside it (see
    :func:`provide_optional_principal`)."""
    return principal_of(request)
