"""The offices' responses to a request: offers and declines, and the requester accepting an offer.

A response to a copy of a request homed on a peer is recorded here and sent to the request's home
(``across.send_response``), which alone moves the request (:func:`take`) and sends the copy back."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.errors import Conflict, Errors, Forbidden, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.outbox.service import tell
from msnet.requests import across, schemas, service
from msnet.requests.models import RequestResponse, SupportRequest
from msnet.roster.models import Expert
from msnet.sharing import slugs_of


def _response_schema(r: RequestResponse, slugs: dict[UUID, str]) -> schemas.RequestResponse:
    return schemas.RequestResponse(
        id=r.id,
        request_id=r.request_id,
        organisation=slugs[r.organisation_id],
        office_id=r.office_id,
        kind=r.kind,  # type: ignore[arg-type]
        experts=list(r.expert_ids),
        period=schemas.Period(start=r.period_start, end=r.period_end)
        if r.period_start and r.period_end
        else None,
        note=r.note,
        reason=r.reason,
        status=r.status,  # type: ignore[arg-type]
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


async def list_responses(
    session: AsyncSession, principal: Principal, request_id: UUID, *, limit: int, cursor: str | None
) -> schemas.ResponsePage:
    """The requester sees every response; a responder sees its own."""
    request = await service.get_request(session, principal, request_id)
    conditions = [RequestResponse.request_id == request.id]
    if request.organisation_id != principal.org_id:
        conditions.append(RequestResponse.organisation_id == principal.org_id)
    total = await session.scalar(select(func.count()).select_from(RequestResponse).where(*conditions))
    query = search.page_after(select(RequestResponse).where(*conditions), cursor, None, RequestResponse.id)
    rows = list(await session.scalars(query.limit(limit + 1)))
    slugs = await slugs_of(session, list({r.organisation_id for r in rows}))
    return schemas.ResponsePage(
        items=[_response_schema(r, slugs) for r in rows[:limit]],
        next_cursor=search.next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


async def respond(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    data: schemas.ResponseCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.RequestResponse | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        f"request.respond {request_id}",
        data,
        lambda: _respond(session, principal, request_id, data, origin),
    )


async def _respond(
    session: AsyncSession, principal: Principal, request_id: UUID, data: schemas.ResponseCreate, origin: str
) -> schemas.RequestResponse:
    request = await service.get_request(session, principal, request_id)
    if principal.org_id not in request.addressee_orgs:
        raise Forbidden("only an addressed office responds to a request")
    await session.refresh(request, with_for_update=True)
    mine = {
        o
        for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True)
        if g == principal.org_id
    }
    await check(session, principal.org_id, mine, data)
    response = RequestResponse(
        request_id=request.id,
        organisation_id=principal.org_id,
        requester_id=request.organisation_id,
        office_id=data.office_id,
        kind=data.kind,
        expert_ids=list(dict.fromkeys(data.experts)),
        period_start=data.period.start if data.period else None,
        period_end=data.period.end if data.period else None,
        note=data.note,
        reason=data.reason,
        origin=origin,
    )
    await take(session, principal, request, response, copy=request.origin != origin)
    await record_action(session, principal, "request.respond", "request_response", response.id, data)
    return _response_schema(response, await slugs_of(session, [principal.org_id]))


async def check(
    session: AsyncSession,
    org_id: UUID,
    offices: set[UUID],
    data: schemas.ResponseCreate,
    *,
    from_peer: bool = False,
) -> None:
    """422 naming every field of ``data`` that ``org_id`` (the responder, addressed through
    ``offices``) may not answer with, on this node or from its own (``from_peer``). An expert must be
    on its roster; one from a peer's node that this node does not hold (a private expert never leaves
    its node) is taken on that node's word, one held here of another organisation's is not."""
    with Errors() as errors:
        if data.office_id not in offices:
            errors.add("office_id", "is not one of the caller's offices this request is addressed to")
        if data.kind == "decline":
            if not data.reason.strip():
                errors.add("reason", "say why the office declines")
            if data.experts or data.period:
                errors.add("experts", "a decline proposes no experts or dates")
        if data.period and data.period.end < data.period.start:
            errors.add("period.end", "is before the start")
        if data.experts:
            held = dict(
                (await session.execute(select(Expert.id, Expert).where(Expert.id.in_(data.experts)))).all()
            )
            for i, expert_id in enumerate(data.experts):
                expert = held.get(expert_id)
                if expert is None and from_peer:
                    continue
                if expert is None or expert.organisation_id != org_id or expert.deleted_at is not None:
                    errors.add(f"experts.{i}", f"no expert {expert_id} on the caller's roster")


async def take(
    session: AsyncSession,
    principal: Principal,
    request: SupportRequest,
    response: RequestResponse,
    *,
    copy: bool,
) -> None:
    """Record ``response`` (409 unless the request takes responses and its office has not responded).
    To a copy (``copy``): sent to the request's home. On the home: the requester is told, the request
    moves (received; rejected once every office declined) and the peers' copies follow."""
    if request.state not in ("submitted", "received"):
        raise Conflict(
            f"a request in state '{request.state}' takes no responses",
            allowed=service.allowed_transitions(request),
        )
    if await session.scalar(
        select(RequestResponse.id).where(
            RequestResponse.request_id == request.id, RequestResponse.office_id == response.office_id
        )
    ):
        raise Conflict("this office has already responded to the request")
    session.add(response)
    await session.flush()
    if copy:
        await across.send_response(session, request, response)
        await session.refresh(response)
        return
    await tell(
        session,
        [request.organisation_id],
        "request.response",
        {
            "request_id": str(request.id),
            "response_id": str(response.id),
            "office_id": str(response.office_id),
            "kind": response.kind,
        },
    )
    if request.state == "submitted":
        await service.transition(session, principal, request, "received", "first response")
    if response.kind == "decline":  # kept on the request: each responder sees only its own responses
        request.declined_offices = [*request.declined_offices, response.office_id]
        await session.flush()
    if set(request.addressee_offices) <= set(request.declined_offices) and request.state == "received":
        await service.transition(session, principal, request, "rejected", "every addressed office declined")
    await session.refresh(response)
    await session.refresh(request)
    await across.propagate(session, request)


async def accept_response(
    session: AsyncSession, principal: Principal, request_id: UUID, response_id: UUID
) -> schemas.RequestResponse:
    """Accept an offer; every organisation that responded is told whether its offer was taken."""
    request = await service.owned(session, principal, request_id)
    response = await session.scalar(
        select(RequestResponse)
        .where(RequestResponse.id == response_id, RequestResponse.request_id == request.id)
        .with_for_update()
    )
    if response is None:
        raise NotFound(f"no response {response_id} to this request")
    if response.kind != "offer" or response.status != "open":
        raise Conflict(f"only an open offer can be accepted; this is a {response.status} {response.kind}")
    if request.state == "received":
        await service.transition(session, principal, request, "accepted", f"offer {response.id} accepted")
    elif request.state != "accepted":
        raise Conflict(
            f"offers are accepted while a request is received or accepted, not {request.state}",
            allowed=service.allowed_transitions(request),
        )
    response.status = "accepted"
    response.version += 1
    await session.flush()
    await session.refresh(response)
    await across.propagate(session, request)
    for other in await session.scalars(
        select(RequestResponse).where(RequestResponse.request_id == request.id)
    ):
        await tell(
            session,
            [other.organisation_id],
            "request.accepted",
            {
                "request_id": str(request.id),
                "response_id": str(other.id),
                "accepted": other.status == "accepted",
            },
        )
    await record_action(session, principal, "request.accept", "request_response", response_id)
    return _response_schema(response, await slugs_of(session, [response.organisation_id]))
