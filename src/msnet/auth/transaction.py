"""One transaction per request, opened at the request edge; services flush, never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import REQUEST_KEY, RequestOrigin
from msnet.auth.failures import FailureKey, note_failure, record_first
from msnet.auth.service import refused
from msnet.db.engine import DENIED, DENY_KEYS, ORG_KEY


async def provide_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session inside ``begin()``: committed when the handler returns, rolled back if it raises.

    A failed commit propagates, so the client gets an error response, never a 2xx. A token that
    was revoked (or whose client was deleted) since it verified is refused here, and the refusal
    counted with the failed authentications (its first in an interval recorded in a transaction of
    its own on the same connection).
    """
    sessionmaker = request.app.state.sessionmaker
    principal = request.scope.get("auth")
    async with sessionmaker() as session:
        session.info[REQUEST_KEY] = RequestOrigin.of(request.scope)
        if principal is not None:
            session.info[ORG_KEY] = principal.org_id
            session.info[DENY_KEYS] = principal.deny_keys
        async with session.begin():
            await session.connection()  # begins: sets the organisation and checks the deny list
            if not session.info.get(DENIED):
                yield session
                return
        key = FailureKey(RequestOrigin.of(request.scope).source, "revoked", principal.org_id, principal.actor)
        verdict = note_failure(request.scope, key)
        if verdict.first:
            async with session.begin():
                await record_first(session, request.scope, key, verdict)
        raise refused("the access token was revoked or its client deleted", verdict)
