"""One transaction per request, opened at the request edge; services flush, never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.service import audit_auth_failure, is_denied, unauthenticated
from msnet.db.engine import ORG_KEY


async def provide_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session inside ``begin()``: committed when the handler returns, rolled back if it raises.

    A failed commit propagates, so the client gets an error response, never a 2xx.
    """
    sessionmaker = request.app.state.sessionmaker
    principal = request.scope.get("auth")
    async with sessionmaker() as session:
        if principal is not None:
            session.info[ORG_KEY] = principal.org_id
        async with session.begin():
            if principal is not None and await is_denied(session, principal):
                await audit_auth_failure(request.scope, "revoked token or deleted client", principal.org_id)
                raise unauthenticated("the access token was revoked or its client deleted")
            yield session
