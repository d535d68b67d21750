"""/v1/overlaps (overlap cases the caller is a party to, their messages, sharing and resolution), and
the guard that limits bursts of submit and withdraw."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.audit.service import audit_event, record
from msnet.auth.principal import Principal, principal_of, provide_principal, requires
from msnet.db.engine import ORG_KEY
from msnet.errors import TooManyRequests
from msnet.overlaps import schemas, service
from msnet.problems import problem_responses

READ = problem_responses(401, 403, 404)
WRITE = problem_responses(401, 403, 404, 409, 413, 415)
StatusFilter = Annotated[
    schemas.Status | None, QueryParameter(name="status", description="Only cases in this status.")
]


async def limit_bursts(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard for submit and withdraw: a client making more than MSNET_REQUEST_BURST_LIMIT of them in
    a minute gets a 429 with ``Retry-After``, and the refusal is audited. Counted in a transaction of
    its own, before the request's, so attempts count whatever their outcome and across processes."""
    principal = principal_of(connection)
    action = "withdraw" if connection.url.path.endswith("/withdraw") else "submit"
    limit = connection.app.state.settings.request_burst_limit
    async with connection.app.state.sessionmaker() as session:
        session.info[ORG_KEY] = principal.org_id
        async with session.begin():
            wait = await service.burst_wait(session, principal, action, limit)
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
                        payload={"limit": limit, "window_seconds": int(service.BURST_WINDOW.total_seconds())},
                    ),
                )
    if wait is not None:
        raise TooManyRequests(
            f"more than {limit} submissions and withdrawals a minute; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


class OverlapController(Controller):
    path = "/v1/overlaps"
    tags = ["overlaps"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Overlap cases the caller is a party to",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def list_cases(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        in_status: StatusFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.OverlapPage:
        return await service.list_cases(db, principal, status=in_status, limit=limit, cursor=cursor)

    @get("/{case_id:uuid}", summary="One overlap case", guards=[requires("requests:read")], responses=READ)
    async def get_one(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> schemas.OverlapCase:
        return await service.get_case(db, principal, case_id)

    @post(
        "/{case_id:uuid}/share",
        summary="Share one of the caller's requests' description into the case (or stop sharing it)",
        guards=[requires("requests:write")],
        responses=WRITE,
        status_code=200,
    )
    async def share(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.Share],
    ) -> schemas.OverlapCase:
        return await service.share(db, principal, case_id, data)

    @get(
        "/{case_id:uuid}/messages",
        summary="Messages between the parties, oldest first",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def messages(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.MessagePage:
        return await service.list_messages(db, principal, case_id, limit=limit, cursor=cursor)

    @post(
        "/{case_id:uuid}/messages",
        summary="Write to the other parties",
        guards=[requires("requests:write")],
        responses=WRITE,
    )
    async def post_message(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.MessageCreate],
    ) -> schemas.Message:
        return await service.post_message(db, principal, case_id, data)

    @post(
        "/{case_id:uuid}/resolution",
        summary="Propose a resolution (kind …) or agree to the open one (agree: its id)",
        guards=[requires("requests:write")],
        responses=WRITE,
        status_code=200,
    )
    async def resolution(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.Resolution],
    ) -> schemas.OverlapCase:
        return await service.resolve(db, principal, case_id, data)
