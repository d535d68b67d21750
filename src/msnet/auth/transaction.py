"""One transaction per request, opened at the request edge; services flush, never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import REQUEST_KEY, RequestOrigin
from msnet.auth.failures import FailureKey, note_failure, record_first
from msnet.auth.service import refused
from msnet.db.engine import DENIED, DENY_KEYS, ORG_KEY
from msnet.db.replica import Replica

#: ``opt`` of a GET handler (a search or a list, that writes nothing) whose reads may be served by
#: the replica (``MSNET_DATABASE_REPLICA_URL``)
FROM_REPLICA = {"reads": "replica"}


def _replica_for(request: Request) -> Replica | None:
    """The replica, if there is one, it is not failing, and this request's handler may read from it."""
    replica: Replica | None = request.app.state.get("replica")
    if replica is None or request.method != "GET" or request.route_handler.opt.get("reads") != "replica":
        return None
    return replica if replica.available else None


async def provide_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session inside ``begin()``: committed when the handler returns, rolled back if it raises.

    A failed commit propagates, so the client gets an error response, never a 2xx. A token that
    was revoked (or whose client was deleted) since it verified is refused here, and the refusal
    counted with the failed authentications (its first in an interval recorded in a transaction of
    its own on the same connection).

    A handler marked ``FROM_REPLICA`` reads from the replica when it is fresh enough for this caller
    (``msnet.db.replica``): the token is still checked, and the read's mark taken, on the primary,
    whose transaction ends before the replica's begins.
    """
    session: AsyncSession = request.app.state.sessionmaker()
    principal = request.scope.get("auth")
    try:
        session.info[REQUEST_KEY] = RequestOrigin.of(request.scope)
        if principal is not None:
            session.info[ORG_KEY] = principal.org_id
            session.info[DENY_KEYS] = principal.deny_keys
        replica = _replica_for(request)
        org_id, actor = (principal.org_id, principal.actor) if principal else (None, None)
        mark = None
        async with session.begin():
            await session.connection()  # begins: sets the organisation and checks the deny list
            denied = session.info.get(DENIED)
            if not denied:
                if replica is None:
                    yield session
                    return
                mark = await replica.mark(session, org_id, actor)
        if replica is not None and mark is not None:
            reader = await replica.open(mark, org_id)
            if reader is None:  # the replica is behind, or failing: the primary serves the read
                async with session.begin():
                    yield session
                return
            async with reader:
                yield reader
            return
        key = FailureKey(RequestOrigin.of(request.scope).source, "revoked", principal.org_id, principal.actor)
        verdict = note_failure(request.scope, key)
        if verdict.first:
            async with session.begin():
                await record_first(session, request.scope, key, verdict)
        raise refused("the access token was revoked or its client deleted", verdict)
    finally:
        # what is left to close: a transaction cut short (the request cancelled while it ended), or
        # objects the session holds; a read that loaded none (a search) skips the task and greenlet
        # switch of closing nothing
        if session.in_transaction() or session.identity_map or session.new:
            async with session:  # closed to the end, even if the request is cancelled meanwhile
                pass
