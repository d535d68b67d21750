"""/v1/requests (support requests, their lifecycle, routing and responses) and /v1/inbox."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.preconditions import IfMatch, etag
from msnet.problems import WRITE_RESPONSES, problem_responses
from msnet.requests import responses, schemas, service
from msnet.requests.limits import limit_bursts

READ = problem_responses(401, 403, 404)
StateFilter = Annotated[
    schemas.State | None, QueryParameter(name="state", description="Only requests in this state.")
]
ACTION = problem_responses(401, 403, 404, 409, 415)
LIMITED = problem_responses(401, 403, 404, 409, 415, 429)


def _with_etag(request: schemas.RequestDetail) -> Response[schemas.RequestDetail]:
    return Response(request, headers={"ETag": etag(request.version)})


class RequestController(Controller):
    path = "/v1/requests"
    tags = ["requests"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Requests the caller made or received",
        guards=[requires("requests:read")],
        responses=READ,
        opt=FROM_REPLICA,
    )
    async def list_requests(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        in_state: StateFilter = None,
        process_id: FromQuery[UUID | None] = None,
        role: FromQuery[service.Role | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.RequestPage:
        """The support requests your organisation made or received (`state`, `process_id`, `role`), newest
        first. Scope `requests:read`."""
        filters = service.RequestFilter(state=in_state, process_id=process_id, role=role)
        return await service.list_requests(db, principal, filters, limit=limit, cursor=cursor)

    @post(
        "/", summary="Draft a support request", guards=[requires("requests:write")], responses=WRITE_RESPONSES
    )
    async def draft_request(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.RequestCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.RequestDetail:
        """Draft a support request on a process for one of your offices: service types, themes, period,
        urgency, languages, mandate, and its addressees or `"route": "best_matches"`. Nothing is sent
        until it is submitted. Scope `requests:write`; honours `Idempotency-Key`; 422 names every bad
        field."""
        return replayable(
            await service.create_request(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{request_id:uuid}",
        summary="One request, with its history",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def get_request(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Response[schemas.RequestDetail]:
        """One request your organisation made or was addressed, with its history and allowed transitions.
        Scope `requests:read`; 404 for anyone else, whatever their scopes."""
        found = await service.get_request(db, principal, request_id)
        return _with_etag(await service.request_detail(db, principal, found))

    @patch(
        "/{request_id:uuid}",
        summary="Change a request, address more offices, hold, resume or start it (If-Match)",
        guards=[requires("requests:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_request(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        data: JSONBody[schemas.RequestUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.RequestDetail]:
        """Change your request, address more offices, put it on hold and back, or start it (`"state": "in-
        progress"`), with `If-Match` (412 when stale). Scope `requests:write`; an illegal transition is
        409."""
        return _with_etag(await service.update_request(db, principal, request_id, data, if_match))

    @post(
        "/{request_id:uuid}/submit",
        summary="Submit a draft: it goes to its addressees (or the best matches)",
        guards=[requires("requests:write"), limit_bursts],
        responses=LIMITED,
        status_code=200,
    )
    async def submit_request(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Response[schemas.RequestDetail]:
        """Submit your draft: it goes to its addressees (or the best three matching offices) by webhook,
        and is checked for overlaps with other organisations' open requests on the same process. Scope
        `requests:write`; 409 when not a draft; 429 past the burst limit."""
        return _with_etag(await service.submit_request(db, principal, request_id))

    @post(
        "/{request_id:uuid}/withdraw",
        summary="Withdraw (cancel) an open request",
        guards=[requires("requests:write"), limit_bursts],
        responses=LIMITED,
        status_code=200,
    )
    async def withdraw_request(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Response[schemas.RequestDetail]:
        """Withdraw (cancel) your open request; the addressees are told. Scope `requests:write`; 409 when
        it is no longer open; 429 past the burst limit."""
        return _with_etag(await service.withdraw_request(db, principal, request_id))

    @post(
        "/{request_id:uuid}/close",
        summary="Close a request with its outcome",
        guards=[requires("requests:write")],
        responses=problem_responses(401, 403, 404, 409, 413, 415),
        status_code=200,
    )
    async def close_request(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        data: JSONBody[schemas.Outcome],
    ) -> Response[schemas.RequestDetail]:
        """Close your request with its outcome: whether support was delivered, how, and why not when it was
        not. Scope `requests:write`; 409 names the states it can go to when closing is not one."""
        return _with_etag(await service.close_request(db, principal, request_id, data))

    @get(
        "/{request_id:uuid}/matches",
        summary="Offices and experts ranked against the request, with the reasons",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def list_request_matches(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> schemas.Matches:
        """Offices (by their best capacity) and roster experts ranked against your request, each with a
        score out of 100 and the reasons, dimension by dimension; possible conflicts of interest are
        flagged. Scope `requests:read`; the requester only."""
        return await service.request_matches(db, principal, request_id)

    @get(
        "/{request_id:uuid}/responses",
        summary="Responses to a request (the requester sees all, a responder its own)",
        guards=[requires("requests:read")],
        responses=READ,
    )
    async def list_request_responses(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.ResponsePage:
        """The responses to a request: the requester sees all, a responding organisation its own. Scope
        `requests:read`."""
        return await responses.list_responses(db, principal, request_id, limit=limit, cursor=cursor)

    @post(
        "/{request_id:uuid}/responses",
        summary="Respond for an addressed office: an offer or a decline",
        guards=[requires("requests:write")],
        responses=WRITE_RESPONSES,
    )
    async def respond_to_request(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        data: JSONBody[schemas.ResponseCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.RequestResponse:
        """Respond for one of your offices addressed by a request: an offer (experts, period, note) or a
        decline (reason), once. Scope `requests:write`; 403 when your organisation is not addressed, 422
        when `office_id` is not one of your addressed offices, 409 when the request takes no more
        responses."""
        return replayable(
            await responses.respond(
                db,
                principal,
                request_id,
                data,
                origin=request.app.state.settings.issuer,
                idempotency_key=idempotency_key,
            )
        )

    @post(
        "/{request_id:uuid}/responses/{response_id:uuid}/accept",
        summary="Accept an offer",
        guards=[requires("requests:write")],
        responses=ACTION,
        status_code=200,
    )
    async def accept_response(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        response_id: FromPath[UUID],
    ) -> schemas.RequestResponse:
        """Accept an offer made on your request (several may be accepted); every responder is told whether
        theirs was taken. Scope `requests:write`; the requester only (404 otherwise); 409 when the
        request's state does not allow it."""
        return await responses.accept_response(db, principal, request_id, response_id)


class InboxController(Controller):
    path = "/v1/inbox"
    tags = ["requests"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Requests addressed to the caller's offices, newest first",
        guards=[requires("requests:read")],
        responses=READ,
        opt=FROM_REPLICA,
    )
    async def list_inbox(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        in_state: StateFilter = None,
        office_id: FromQuery[UUID | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.RequestPage:
        """Requests addressed to your organisation's offices, newest submission first (`state`,
        `office_id`). Scope `requests:read`."""
        return await service.inbox(
            db, principal, state=in_state, office_id=office_id, limit=limit, cursor=cursor
        )
