"""/v1/overlaps: overlap cases the caller is a party to, their messages, sharing and resolution."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.overlaps import schemas, service
from msnet.problems import problem_responses

READ = problem_responses(401, 403, 404)
WRITE = problem_responses(401, 403, 404, 409, 413, 415)
AGREED = ResponseSpec(
    data_container=schemas.OverlapCase,
    description="An agreement to the open proposal (nothing created): the case, resolved if it was the last",
)
StatusFilter = Annotated[
    schemas.Status | None, QueryParameter(name="status", description="Only cases in this status.")
]


class OverlapController(Controller):
    path = "/v1/overlaps"
    tags = ["overlaps"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Overlap cases the caller is a party to",
        guards=[requires("requests:read")],
        responses=READ,
        opt=FROM_REPLICA,
    )
    async def list_overlap_cases(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        in_status: StatusFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.OverlapPage:
        """The overlap cases your organisation is a party to (`status`). Scope `requests:read`."""
        return await service.list_cases(db, principal, status=in_status, limit=limit, cursor=cursor)

    @get("/{case_id:uuid}", summary="One overlap case", guards=[requires("requests:read")], responses=READ)
    async def get_overlap_case(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> schemas.OverlapCase:
        """One overlap case your organisation is a party to: the process, the overlapping period, service
        types and themes, why they overlap, and the open proposal. Scope `requests:read`; 404 for anyone
        else."""
        return await service.get_case(db, principal, case_id)

    @post(
        "/{case_id:uuid}/share",
        summary="Share one of the caller's requests' description into the case (or stop sharing it)",
        guards=[requires("requests:write")],
        responses=WRITE,
        status_code=200,
    )
    async def share_request_in_case(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.Share],
    ) -> schemas.OverlapCase:
        """Share the description of one of your requests with the other parties of the case (or stop
        sharing it, `"shared": false`). Scope `requests:write`."""
        return await service.share(db, principal, case_id, data)

    @get(
        "/{case_id:uuid}/messages",
        summary="Messages between the parties, oldest first",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def list_case_messages(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.MessagePage:
        """The messages between the parties of a case, oldest first. Scope `requests:read`; 404 when your
        organisation is not a party."""
        return await service.list_messages(db, principal, case_id, limit=limit, cursor=cursor)

    @post(
        "/{case_id:uuid}/messages",
        summary="Write to the other parties",
        guards=[requires("requests:write")],
        responses=WRITE,
    )
    async def post_case_message(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.MessageCreate],
    ) -> schemas.Message:
        """Write to the other parties of an overlap case; they are told by webhook. Scope `requests:write`;
        404 when your organisation is not a party."""
        return await service.post_message(db, principal, case_id, data)

    @post(
        "/{case_id:uuid}/resolution",
        summary="Propose a resolution (kind …) or agree to the open one (agree: its id)",
        guards=[requires("requests:write")],
        responses={**WRITE, 200: AGREED},
        status_code=201,
        response_description="A proposal, created: the case, with it as its open proposal",
    )
    async def resolve_overlap_case(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
        data: JSONBody[schemas.Resolution],
    ) -> Response[schemas.OverlapCase]:
        """Propose a resolution (`kind`: coordinate, complementary, merge, withdraw, not_an_overlap) or
        agree to the open one (`agree`: its id); the case is resolved when every party agreed. Scope
        `requests:write`; 409 when the case is resolved or the proposal superseded."""
        case = await service.resolve(db, principal, case_id, data)
        return Response(case, status_code=201 if data.agree is None else 200)  # a proposal is created
