"""The burst limit on submit and withdraw: each actor's attempts are counted (a client, a person or a
node), and past MSNET_REQUEST_BURST_LIMIT in ``BURST_WINDOW`` the next is refused with a 429."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import audit_event, record
from msnet.auth.principal import Principal, principal_of
from msnet.db.engine import ORG_KEY
from msnet.errors import TooManyRequests
from msnet.requests.models import RequestBurst

BURST_WINDOW = timedelta(seconds=60)  # the window MSNET_REQUEST_BURST_LIMIT counts attempts in


async def burst_wait(session: AsyncSession, principal: Principal, action: str, limit: int) -> int | None:
    """Count this attempt of the actor's; past ``limit`` in ``BURST_WINDOW`` it is refused and the
    seconds to wait are returned (the attempt is not counted)."""
    key = f"msnet.burst.{principal.org_id}.{principal.actor}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    now = datetime.now(UTC)  # once the lock is held: an attempt counted while this one waited is earlier
    mine = (RequestBurst.organisation_id == principal.org_id, RequestBurst.actor == principal.actor)
    await session.execute(delete(RequestBurst).where(*mine, RequestBurst.at <= now - BURST_WINDOW))
    recent = list(await session.scalars(select(RequestBurst.at).where(*mine).order_by(RequestBurst.at)))
    if len(recent) >= limit:
        return max(1, math.ceil((recent[len(recent) - limit] + BURST_WINDOW - now).total_seconds()))
    session.add(RequestBurst(organisation_id=principal.org_id, actor=principal.actor, action=action, at=now))
    await session.flush()
    return None


async def limit_bursts(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard for submit and withdraw: an actor making more than MSNET_REQUEST_BURST_LIMIT of them in
    a minute gets a 429 with ``Retry-After``, and the refusal is audited. Counted in a transaction of
    its own, before the request's, so attempts count whatever their outcome and across processes."""
    principal = principal_of(connection)
    action = "withdraw" if connection.url.path.endswith("/withdraw") else "submit"
    limit = connection.app.state.settings.request_burst_limit
    async with connection.app.state.sessionmaker() as session:
        session.info[ORG_KEY] = principal.org_id
        async with session.begin():
            wait = await burst_wait(session, principal, action, limit)
            if wait is not None:
                await record(
                    session,
                    audit_event(
                        connection.scope,
                        action="request.rate_limited",
                        resource_type="route",
                        resource_id=f"{connection.scope['method']} {connection.url.path}",
                        outcome="denied",
                        principal=principal,
                        payload={"limit": limit, "window_seconds": int(BURST_WINDOW.total_seconds())},
                    ),
                )
    if wait is not None:
        raise TooManyRequests(
            f"more than {limit} submissions and withdrawals a minute; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
