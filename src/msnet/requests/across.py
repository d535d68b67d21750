"""Requests across nodes: what a request's home node sends the nodes of its addressees, and what an
addressee's node sends back (``msnet.federation.requests`` applies them on arrival).

The requester's node is the request's home and its single writer. Each node homing an addressed
organisation holds a read-only copy (``origin`` the home's issuer) carrying only what its
organisations may see: their own offices among the addressees, their own routing reasons, their own
responses' outcomes, the history as the API shows it to them. The home sends the copy as it stands
after every change (``request.sent`` the first time a node's offices are addressed,
``request.changed`` after), one message per version and content, in order per request. An addressee
acts on the copy only by responding (an offer or a decline), which its node records and sends to the
home (``request.response``), where it moves the request as a local response would.

Messages carry global ids only (requests, offices, organisations, processes, responses, events).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.directory.models import Office
from msnet.errors import Conflict
from msnet.organisations.models import Organisation
from msnet.outbox.service import enqueue_peer
from msnet.processes.models import Process
from msnet.requests.models import RequestEvent, RequestResponse, SupportRequest

SENT = "request.sent"
CHANGED = "request.changed"
RESPONSE = "request.response"


async def homes(session: AsyncSession, org_ids: Iterable[UUID]) -> dict[UUID, str | None]:
    """The home node of each organisation: None for one homed here, else its peer's issuer."""
    ids = list(set(org_ids))
    if not ids:
        return {}
    return dict(
        (
            await session.execute(select(Organisation.id, Organisation.home).where(Organisation.id.in_(ids)))
        ).all()
    )  # type: ignore[arg-type]


async def remote_addressees(session: AsyncSession, request: SupportRequest) -> dict[str, list[UUID]]:
    """The addressed organisations homed on peers, by their node."""
    by_node: dict[str, list[UUID]] = {}
    for org, home in (await homes(session, request.addressee_orgs)).items():
        if home is not None:
            by_node.setdefault(home, []).append(org)
    return by_node


def _may_see(record: Any, org: UUID) -> bool:
    return (
        record.organisation_id == org
        or record.sharing in ("network", "public")
        or (record.sharing == "restricted" and org in record.share_with)
    )


async def check_reachable(session: AsyncSession, request: SupportRequest, orgs: Iterable[UUID]) -> None:
    """A 409 unless each of ``orgs`` (addressees homed on peers) may see the request's process and
    requesting office: their copy refers to both, which their node holds only if it may."""
    process = await session.get(Process, request.process_id)
    office = await session.get(Office, request.office_id)
    for org in orgs:
        slug = await session.scalar(select(Organisation.slug).where(Organisation.id == org))
        for what, record in (("process", process), ("requesting office", office)):
            if record is None or not _may_see(record, org):
                raise Conflict(
                    f"'{slug}' is homed on another node, which holds only what '{slug}' may see: "
                    f"share the request's {what} with it (network, or restricted to it) first"
                )


async def propagate(session: AsyncSession, request: SupportRequest, new: Iterable[UUID] = ()) -> None:
    """On the request's home: queue for each node homing addressees their copy as it stands now
    (``new``: organisations addressed by this change, whose node gets ``request.sent``). Nothing for
    a draft, or on a copy."""
    if request.state == "draft" or (await homes(session, [request.organisation_id])).get(
        request.organisation_id
    ):
        return
    new = set(new)
    await session.flush()
    await session.refresh(request)  # as written, with the times the database set
    for node, orgs in sorted((await remote_addressees(session, request)).items()):
        body = await copy_for(session, request, set(orgs))
        digest = hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()[:32]
        await enqueue_peer(
            session,
            organisation_id=request.organisation_id,
            to=node,
            kind=SENT if new & set(orgs) else CHANGED,
            key=f"{request.id}:{request.version}:{digest}",
            subject=str(request.id),
            body=body,
        )


async def copy_for(session: AsyncSession, request: SupportRequest, orgs: set[UUID]) -> dict[str, Any]:
    """The request as the organisations ``orgs`` (homed on one peer) may see it."""
    offices = {
        str(o) for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True) if g in orgs
    }
    told = orgs | {request.organisation_id}
    events = await session.scalars(
        select(RequestEvent)
        .where(RequestEvent.request_id == request.id)
        .order_by(RequestEvent.at, RequestEvent.id)
    )
    responses = await session.scalars(
        select(RequestResponse).where(
            RequestResponse.request_id == request.id, RequestResponse.organisation_id.in_(orgs)
        )
    )
    return msgspec.to_builtins(
        {
            "id": request.id,
            "organisation_id": request.organisation_id,
            "office_id": request.office_id,
            "process_id": request.process_id,
            "title": request.title,
            "description": request.description,
            "service_types": request.service_types,
            "themes": request.themes,
            "languages": request.languages,
            "period_start": request.period_start,
            "period_end": request.period_end,
            "urgency": request.urgency,
            "mandate_type": request.mandate_type,
            "mandate_reference": request.mandate_reference,
            "route": request.route,
            "exclude_own_organisation": request.exclude_own_organisation,
            "addressees": [
                {"office_id": o, "organisation_id": g}
                for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True)
                if g in orgs
            ],
            "declined_offices": [o for o in request.declined_offices if str(o) in offices],
            "routing": [r for r in request.routing if r.get("office_id") in offices],
            "state": request.state,
            "held_from": request.held_from,
            "outcome": request.outcome,
            "submitted_at": request.submitted_at,
            "closed_at": request.closed_at,
            "version": request.version,
            "created_at": request.created_at,
            "updated_at": request.updated_at,
            "events": [
                {
                    "id": e.id,
                    # another addressee's part in the history is shown as the requester's
                    "organisation_id": e.organisation_id
                    if e.organisation_id in told
                    else request.organisation_id,
                    "from_state": e.from_state,
                    "to_state": e.to_state,
                    "note": e.note,
                    "at": e.at,
                }
                for e in events
            ],
            "responses": [{"id": r.id, "status": r.status} for r in responses],
        }
    )


async def send_response(session: AsyncSession, request: SupportRequest, response: RequestResponse) -> None:
    """On an addressee's node: queue the response made to a copy for the request's home."""
    await enqueue_peer(
        session,
        organisation_id=response.organisation_id,
        to=request.origin,
        kind=RESPONSE,
        key=str(response.id),
        subject=str(request.id),
        body=msgspec.to_builtins(
            {
                "id": response.id,
                "request_id": request.id,
                "organisation_id": response.organisation_id,
                "office_id": response.office_id,
                "kind": response.kind,
                "expert_ids": response.expert_ids,
                "period_start": response.period_start,
                "period_end": response.period_end,
                "note": response.note,
                "reason": response.reason,
            }
        ),
    )
