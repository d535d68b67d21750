"""Requests across nodes, as they arrive (``msnet.requests.across`` sends them).

On an addressee's node, ``request.sent`` creates or updates the read-only copy of a request homed on
the sending peer, and ``request.changed`` updates it (refused, 404, for a request not held here).
The copy is written as the home sent it, only if it is not older than the one held: state, history,
outcome, the outcomes of this node's organisations' responses. Its addressees here are told through
their webhooks as they would be of a local request, and each records the change in its audit log,
the actor naming the home node and the requesting organisation (``node:ISSUER#SLUG``).

On a request's home, ``request.response`` is an addressee's offer or decline made on its node: taken
as a local response is (``msnet.requests.responses.take``), recorded in the responder's log with the
responder's node and organisation as the actor, and refused (409) if the request no longer takes
responses (a withdrawal that crossed it), 404 if the request is not held here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import AuditEvent, record, record_action
from msnet.auth.principal import Principal
from msnet.db.engine import set_organisation
from msnet.directory.models import Office
from msnet.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from msnet.federation.inbox import Message, handles
from msnet.organisations.models import Organisation
from msnet.outbox.service import tell
from msnet.processes.models import Process
from msnet.requests import across, responses, service
from msnet.requests.models import RequestEvent, RequestResponse, SupportRequest
from msnet.requests.schemas import ResponseCreate

CLOSED = ("completed", "cancelled")
T = TypeVar("T")


class Body(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Addressee(Body):
    office_id: UUID
    organisation_id: UUID


class Event(Body):
    id: UUID
    organisation_id: UUID
    from_state: str | None
    to_state: str
    note: str
    at: datetime


class Outcome(Body):
    id: UUID
    status: Literal["open", "accepted", "not_selected"]


State = Literal[
    "submitted", "on-hold", "received", "accepted", "rejected", "in-progress", "completed", "cancelled"
]


class Copy(Body):
    id: UUID
    organisation_id: UUID
    office_id: UUID
    process_id: UUID
    title: str
    description: str
    service_types: list[str]
    themes: list[str]
    languages: list[str]
    period_start: date
    period_end: date
    urgency: str
    mandate_type: str
    mandate_reference: str
    route: str
    exclude_own_organisation: bool
    addressees: list[Addressee]
    declined_offices: list[UUID]
    routing: list[dict[str, Any]]
    state: State
    held_from: str | None
    outcome: dict[str, Any] | None
    submitted_at: datetime | None
    closed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[Event]
    responses: list[Outcome]


class Response(Body):
    id: UUID
    request_id: UUID
    organisation_id: UUID
    office_id: UUID
    kind: Literal["offer", "decline"]
    expert_ids: list[UUID]
    period_start: date | None
    period_end: date | None
    note: str
    reason: str


def _decode(body: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(body, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput.field("body", f"not a well-formed {kind.__name__.lower()}: {exc}") from None


async def _homed_on(session: AsyncSession, org_id: UUID, issuer: str) -> Organisation:
    """The organisation ``org_id`` if it is homed on the peer ``issuer`` (403 otherwise: a node speaks
    only for its own organisations)."""
    org = await session.get(Organisation, org_id)
    if org is None or org.home != issuer:
        raise Forbidden(f"organisation {org_id} is not homed on {issuer}")
    return org


def _actor(issuer: str, slug: str) -> str:
    return f"node:{issuer}#{slug}"


# --- an addressee's node: the copy ------------------------------------------------------------


@handles(across.SENT)
async def request_sent(session: AsyncSession, message: Message) -> None:
    await _apply_copy(session, message, first=True)


@handles(across.CHANGED)
async def request_changed(session: AsyncSession, message: Message) -> None:
    await _apply_copy(session, message, first=False)


async def _local_addressees(session: AsyncSession, copy: Copy) -> dict[UUID, list[UUID]]:
    """The copy's addressed offices by organisation: each must be homed here and be its organisation's."""
    if not copy.addressees:
        raise InvalidInput.field("addressees", "names no office of this node's")
    by_org: dict[UUID, list[UUID]] = {}
    for i, addressee in enumerate(copy.addressees):
        org = await session.get(Organisation, addressee.organisation_id)
        office = await session.scalar(select(Office.organisation_id).where(Office.id == addressee.office_id))
        if org is None or org.home is not None or office != org.id:
            raise InvalidInput.field(
                f"addressees.{i}", f"office {addressee.office_id} is not an office homed here"
            )
        by_org.setdefault(org.id, []).append(addressee.office_id)
    return by_org


async def _apply_copy(session: AsyncSession, message: Message, *, first: bool) -> None:
    issuer = message.sender.issuer
    copy = _decode(message.body, Copy)
    requester = await _homed_on(session, copy.organisation_id, issuer)
    by_org = await _local_addressees(session, copy)
    await set_organisation(session, requester.id)
    held = await session.scalar(select(SupportRequest).where(SupportRequest.id == copy.id).with_for_update())
    if held is None and not first:
        raise NotFound(f"no request {copy.id} from {issuer} is held here")
    if held is not None and held.origin != issuer:
        raise Conflict(f"request {copy.id} is held here from {held.origin}, not from {issuer}")
    if held is not None and held.version > copy.version:
        return  # an older version than the one held: nothing to do
    if held is None:
        for what, model, record_id in (
            ("process", Process, copy.process_id),
            ("office", Office, copy.office_id),
        ):
            if await session.scalar(select(model.id).where(model.id == record_id)) is None:
                raise ServiceUnavailable(
                    f"the request's {what} {record_id} is not held here yet (this node pulls it from its "
                    "home's change feed): send the request again later"
                )
    if (
        await session.scalar(select(Office.organisation_id).where(Office.id == copy.office_id))
        != requester.id
    ):
        raise InvalidInput.field(
            "office_id", f"office {copy.office_id} is not an office of '{requester.slug}'"
        )
    if held is None:
        held = SupportRequest(
            id=copy.id, organisation_id=requester.id, origin=issuer, sharing="private", share_with=[]
        )
        session.add(held)
    before_state = held.state
    before_offices = set(held.addressee_offices or [])
    held.office_id, held.process_id = copy.office_id, copy.process_id
    for field in (
        "title", "description", "service_types", "themes", "languages", "period_start", "period_end", "urgency",
        "mandate_type", "mandate_reference", "route", "exclude_own_organisation", "declined_offices", "routing",
        "state", "held_from", "outcome", "submitted_at", "closed_at", "version", "created_at", "updated_at",
    ):  # fmt: skip
        setattr(held, field, getattr(copy, field))
    held.addressee_offices = [a.office_id for a in copy.addressees]
    held.addressee_orgs = [a.organisation_id for a in copy.addressees]
    await _flush(session, f"request {copy.id}")
    await _history(session, held, copy, set(by_org) | {requester.id})
    await _outcomes(session, held, copy, set(by_org))
    await _tell(session, held, by_org, before_state, before_offices)
    for org in by_org:
        await set_organisation(session, org)
        await record(
            session,
            AuditEvent(
                organisation_id=org,
                actor=_actor(issuer, requester.slug),
                action="request.received" if before_state is None else "request.changed",
                resource_type="request",
                resource_id=str(held.id),
                outcome="success",
                payload={"state": held.state, "version": held.version, "message": str(message.id)},
            ),
        )


async def _flush(session: AsyncSession, what: str) -> None:
    """The writes flushed; an id the peer chose that a row here holds already (one this node may not
    even see) is a 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if '"pk_' not in str(exc.orig):
            raise
        raise Conflict(f"the id of {what} is taken here") from None


async def _history(session: AsyncSession, held: SupportRequest, copy: Copy, parties: set[UUID]) -> None:
    """The events of the copy's history not held yet, each written as the organisation that made it
    (another's, unknown here, as the requester's)."""
    have = set(await session.scalars(select(RequestEvent.id).where(RequestEvent.request_id == held.id)))
    for event in copy.events:
        if event.id in have:
            continue
        org = event.organisation_id if event.organisation_id in parties else held.organisation_id
        await set_organisation(session, org)
        session.add(
            RequestEvent(
                id=event.id,
                request_id=held.id,
                organisation_id=org,
                from_state=event.from_state,
                to_state=event.to_state,
                note=event.note,
                at=event.at,
            )
        )
        await _flush(session, f"event {event.id}")


async def _outcomes(session: AsyncSession, held: SupportRequest, copy: Copy, orgs: set[UUID]) -> None:
    """This node's organisations' responses as the home decided them (accepted, not selected); once
    the request is closed, an offer the home never took (it crossed a withdrawal) is not selected."""
    await set_organisation(session, held.organisation_id)  # the requester sees every response to it
    decided = {o.id: o.status for o in copy.responses}
    for response in await session.scalars(
        select(RequestResponse).where(
            RequestResponse.request_id == held.id, RequestResponse.organisation_id.in_(orgs)
        )
    ):
        status = decided.get(response.id)
        if status is None and held.state in CLOSED and response.kind == "offer" and response.status == "open":
            status = "not_selected"
        if status is None or status == response.status:
            continue
        response.status = status
        response.version += 1
        await session.flush()
        if status != "open":
            await tell(
                session,
                [response.organisation_id],
                "request.accepted",
                {
                    "request_id": str(held.id),
                    "response_id": str(response.id),
                    "accepted": status == "accepted",
                },
            )


async def _tell(
    session: AsyncSession,
    held: SupportRequest,
    by_org: dict[UUID, list[UUID]],
    before_state: str | None,
    before_offices: set[UUID],
) -> None:
    """The addressees here told, through their webhooks, as of a local request."""
    if held.state != before_state:
        await tell(
            session,
            list(by_org),
            "request.state_changed",
            {"request_id": str(held.id), "from": before_state or "draft", "to": held.state},
        )
    for org, offices in by_org.items():
        new = [str(o) for o in offices if o not in before_offices]
        if new:
            await tell(session, [org], "request.received", {"request_id": str(held.id), "offices": new})


# --- a request's home: the responses ----------------------------------------------------------


def _as_response(body: Response) -> ResponseCreate:
    """The response a peer's node sent, as its organisation would have made it on this node (its
    fields' bounds checked: 422 naming the first one out of them)."""
    period = None
    if body.period_start is not None or body.period_end is not None:
        period = {"start": body.period_start, "end": body.period_end}
    made = {
        "office_id": body.office_id, "kind": body.kind, "experts": body.expert_ids, "period": period,
        "note": body.note, "reason": body.reason,
    }  # fmt: skip
    try:
        return msgspec.convert(made, ResponseCreate)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `$")
        raise InvalidInput.field(path.rstrip("`").lstrip(".") or "body", message) from None


@handles(across.RESPONSE)
async def request_response(session: AsyncSession, message: Message) -> None:
    issuer = message.sender.issuer
    body = _decode(message.body, Response)
    responder = await _homed_on(session, body.organisation_id, issuer)
    await set_organisation(session, responder.id)
    principal = Principal(
        org_id=responder.id,
        org_slug=responder.slug,
        subject=f"{issuer}#{responder.slug}",
        scopes=frozenset({"requests:write"}),
        credential=message.node.credential,
        expires_at=message.node.expires_at,
        kind="node",
    )
    try:
        request = await service.get_request(session, principal, body.request_id)
    except NotFound:
        request = None
    if request is None or (await across.homes(session, [request.organisation_id])).get(
        request.organisation_id
    ):
        raise NotFound(f"no request {body.request_id} addressed to '{responder.slug}' is held here")
    await session.refresh(request, with_for_update=True)
    theirs = {
        o for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True) if g == responder.id
    }
    if body.office_id not in theirs:
        raise Forbidden(
            f"office {body.office_id} is not one of '{responder.slug}''s this request is addressed to"
        )
    await responses.check(session, responder.id, theirs, _as_response(body), from_peer=True)
    response = RequestResponse(
        id=body.id,
        request_id=request.id,
        organisation_id=responder.id,
        requester_id=request.organisation_id,
        office_id=body.office_id,
        kind=body.kind,
        expert_ids=list(dict.fromkeys(body.expert_ids)),
        period_start=body.period_start,
        period_end=body.period_end,
        note=body.note,
        reason=body.reason,
        origin=issuer,
    )
    try:
        await responses.take(session, principal, request, response, copy=False)
    except IntegrityError as exc:
        if f'"pk_{RequestResponse.__tablename__}"' not in str(exc.orig):
            raise
        raise Conflict(f"the id of response {body.id} is taken here") from None
    await record_action(
        session,
        principal,
        "request.respond",
        "request_response",
        response.id,
        {**message.body, "message": str(message.id)},
    )
