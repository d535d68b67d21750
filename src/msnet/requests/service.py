"""Support requests: drafting, addressing, the lifecycle (submit, hold, resume, withdraw, close), the
lists and the inbox. The offices' responses are in ``responses``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import decode_cursor, encode_cursor, set_fields
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.directory import service as directory
from msnet.directory.models import Office
from msnet.errors import Conflict, Errors, Forbidden, InvalidInput, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.outbox.service import tell
from msnet.overlaps import service as overlaps
from msnet.preconditions import check_version
from msnet.processes import service as processes
from msnet.processes.models import Process
from msnet.requests import across, routing, schemas
from msnet.requests.models import RequestEvent, RequestResponse, SupportRequest
from msnet.sharing import apply_changes, resolve_share_with, resolve_sharing, slugs_of, visible
from msnet.taxonomy import service as taxonomy

# The lifecycle, in the manner of FHIR's Task: from each state, the states it may go to. A request
# on hold goes back to the state it was held from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted", "cancelled"),
    "submitted": ("on-hold", "received", "cancelled"),
    "on-hold": ("cancelled",),
    "received": ("on-hold", "accepted", "rejected", "cancelled"),
    "accepted": ("in-progress", "completed", "cancelled"),
    "rejected": ("completed",),
    "in-progress": ("completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}
OPEN = ("submitted", "on-hold", "received", "accepted", "in-progress")
BY_PATCH = ("on-hold", "in-progress", "submitted", "received")  # holding, resuming, starting
OVERLAP_FIELDS = ("process_id", "period_start", "period_end", "service_types", "themes")  # detection reruns
#: The audit action of a change by the state it moves the request to (none: request.update).
UPDATE_ACTIONS = {
    "on-hold": "request.hold",
    "submitted": "request.resume",
    "received": "request.resume",
    "in-progress": "request.start",
}


Role = Literal["requester", "addressee"]


@dataclass(frozen=True)
class RequestFilter:
    state: str | None = None
    process_id: UUID | None = None
    role: Role | None = None


def allowed_transitions(request: SupportRequest) -> list[str]:
    if request.state == "on-hold":
        return [request.held_from or "submitted", "cancelled"]
    return list(TRANSITIONS[request.state])


def readable(principal: Principal) -> ColumnElement[bool]:
    """The query-side twin of the requests' row-level security policy."""
    me = principal.org_id
    return or_(
        SupportRequest.organisation_id == me,
        (SupportRequest.state != "draft")
        & or_(
            SupportRequest.addressee_orgs.contains([me]),
            (SupportRequest.sharing == "restricted") & SupportRequest.share_with.contains([me]),
        ),
    )


def _parties(request: SupportRequest) -> list[UUID]:
    return [request.organisation_id, *(request.addressee_orgs if request.state != "draft" else [])]


# --- reading -------------------------------------------------------------------------------


async def _schemas(
    session: AsyncSession, principal: Principal, rows: list[SupportRequest]
) -> list[schemas.SupportRequest]:
    org_ids = {r.organisation_id for r in rows} | {
        i for r in rows for i in (*r.share_with, *r.addressee_orgs)
    }
    slugs = await slugs_of(session, list(org_ids))
    offices = await directory.office_names(session, principal, {o for r in rows for o in r.addressee_offices})
    process_ids = {r.process_id for r in rows}
    names = dict(
        (
            await session.execute(
                select(Process.id, Process.name).where(
                    Process.id.in_(process_ids), visible(Process, principal)
                )
            )
        ).all()
    )
    in_cases = await overlaps.cases_of(
        session, principal, [r.id for r in rows if r.organisation_id == principal.org_id]
    )
    items = []
    for r in rows:
        mine = r.organisation_id == principal.org_id
        addressees = [  # an addressed organisation learns of its own offices only, not who else was asked
            schemas.Addressee(office_id=o, organisation=slugs[g], office=offices.get(o))
            for o, g in zip(r.addressee_offices, r.addressee_orgs, strict=True)
            if mine or g == principal.org_id
        ]
        items.append(
            schemas.SupportRequest(
                id=r.id,
                organisation=slugs[r.organisation_id],
                office_id=r.office_id,
                process=schemas.ProcessRef(id=r.process_id, name=names.get(r.process_id)),
                title=r.title,
                description=r.description,
                service_types=list(r.service_types),
                themes=list(r.themes),
                period=schemas.Period(start=r.period_start, end=r.period_end),
                urgency=r.urgency,  # type: ignore[arg-type]
                languages=list(r.languages),
                mandate=schemas.Mandate(type=r.mandate_type, reference=r.mandate_reference),  # type: ignore[arg-type]
                route=r.route,  # type: ignore[arg-type]
                exclude_own_organisation=r.exclude_own_organisation,
                addressees=addressees,
                routing=_routing(principal, r),
                overlap_cases=in_cases.get(r.id, []) if mine else None,
                state=r.state,  # type: ignore[arg-type]
                allowed_transitions=allowed_transitions(r),  # type: ignore[arg-type]
                outcome=msgspec.convert(r.outcome, schemas.Outcome) if r.outcome else None,
                submitted_at=r.submitted_at,
                closed_at=r.closed_at,
                sharing=r.sharing,  # type: ignore[arg-type]
                share_with=[slugs[i] for i in r.share_with],
                origin=r.origin,
                version=r.version,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        )
    return items


def _routing(principal: Principal, request: SupportRequest) -> list[schemas.Routed]:
    """Why each office was routed to: the requester sees every one, an addressed organisation only
    its own offices' (not the others' offices, scores or load)."""
    org_of = {str(o): g for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True)}
    mine = request.organisation_id == principal.org_id
    return [
        msgspec.convert(
            {**routed, "own_organisation": org_of.get(routed["office_id"]) == request.organisation_id},
            schemas.Routed,
        )
        for routed in request.routing
        if mine or org_of.get(routed["office_id"]) == principal.org_id
    ]


async def request_detail(
    session: AsyncSession, principal: Principal, request: SupportRequest
) -> schemas.RequestDetail:
    summary = (await _schemas(session, principal, [request]))[0]
    events = list(
        await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request.id)
            .order_by(RequestEvent.at, RequestEvent.id)
        )
    )
    slugs = await slugs_of(session, list({e.organisation_id for e in events}))
    told = {request.organisation_id, principal.org_id}
    history = [
        schemas.Transition(
            from_state=e.from_state,  # type: ignore[arg-type]
            to_state=e.to_state,  # type: ignore[arg-type]
            organisation=slugs[e.organisation_id]
            if request.organisation_id == principal.org_id or e.organisation_id in told
            else None,
            at=e.at,
            note=e.note,
        )
        for e in events
    ]
    return schemas.RequestDetail(**msgspec.structs.asdict(summary), history=history)


async def get_request(session: AsyncSession, principal: Principal, request_id: UUID) -> SupportRequest:
    request = await session.scalar(
        select(SupportRequest).where(SupportRequest.id == request_id, readable(principal))
    )
    if request is None:
        raise NotFound(f"no request {request_id}")
    return request


async def owned(session: AsyncSession, principal: Principal, request_id: UUID) -> SupportRequest:
    """A request the caller made, locked for a change; an addressee's attempt is a 403."""
    request = await get_request(session, principal, request_id)
    if request.organisation_id != principal.org_id:
        raise Forbidden("only the requesting organisation may do this")
    await session.refresh(request, with_for_update=True)
    return request


async def list_requests(
    session: AsyncSession, principal: Principal, filters: RequestFilter, *, limit: int, cursor: str | None
) -> schemas.RequestPage:
    conditions = [readable(principal)]
    if filters.state:
        conditions.append(SupportRequest.state == filters.state)
    if filters.process_id:
        try:
            process = await processes.resolve(session, principal, filters.process_id)
        except NotFound:
            raise InvalidInput.field("process_id", f"no process {filters.process_id}") from None
        merged = (await processes.aliases(session, [process.id]))[process.id]
        conditions.append(SupportRequest.process_id.in_([process.id, *merged]))
    if filters.role == "requester":
        conditions.append(SupportRequest.organisation_id == principal.org_id)
    elif filters.role == "addressee":
        conditions.append(SupportRequest.addressee_orgs.contains([principal.org_id]))
    total = await session.scalar(select(func.count()).select_from(SupportRequest).where(*conditions))
    query = search.page_after(
        select(SupportRequest).where(*conditions), cursor, None, SupportRequest.id, newest_first=True
    )
    rows = list(await session.scalars(query.limit(limit + 1)))
    return schemas.RequestPage(
        items=await _schemas(session, principal, rows[:limit]),
        next_cursor=search.next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput.field("cursor", "is not a cursor this API gave out") from None


async def inbox(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str | None,
    office_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> schemas.RequestPage:
    """Requests addressed to the caller's offices, newest submission first."""
    conditions = [
        readable(principal),
        SupportRequest.addressee_orgs.contains([principal.org_id]),
        SupportRequest.state != "draft",
    ]
    if state:
        conditions.append(SupportRequest.state == state)
    if office_id:
        conditions.append(SupportRequest.addressee_offices.contains([office_id]))
    total = await session.scalar(select(func.count()).select_from(SupportRequest).where(*conditions))
    query = select(SupportRequest).where(*conditions)
    if cursor:
        when, after = decode_cursor(cursor, datetime, str)
        query = query.where(
            tuple_(SupportRequest.submitted_at, SupportRequest.id) < tuple_(when, _uuid(after))
        )
    rows = list(
        await session.scalars(
            query.order_by(SupportRequest.submitted_at.desc(), SupportRequest.id.desc()).limit(limit + 1)
        )
    )
    return schemas.RequestPage(
        items=await _schemas(session, principal, rows[:limit]),
        next_cursor=(
            encode_cursor(rows[limit - 1].submitted_at.isoformat(), str(rows[limit - 1].id))
            if len(rows) > limit
            else None
        ),
        total=total or 0,
    )


# --- writing -------------------------------------------------------------------------------


async def _addressees(
    session: AsyncSession, principal: Principal, office_ids: list[UUID], requesting_office: UUID
) -> tuple[list[UUID], list[UUID]]:
    offices = dict(
        (
            await session.execute(
                select(Office.id, Office.organisation_id).where(
                    Office.id.in_(office_ids), visible(Office, principal)
                )
            )
        ).all()
    )
    with Errors() as errors:
        for i, office_id in enumerate(office_ids):
            if office_id not in offices:
                errors.add(f"addressees.{i}", f"no office {office_id}")
            elif office_id == requesting_office:
                errors.add(f"addressees.{i}", "a request cannot be addressed to the office that makes it")
    unique = list(dict.fromkeys(office_ids))
    return unique, [offices[o] for o in unique]


async def _validated(
    session: AsyncSession, principal: Principal, changes: dict[str, Any], request: SupportRequest | None
) -> dict[str, Any]:
    """The columns a create (``request`` None) or an update writes, the sharing resolved; a 422
    names every mistake."""
    with Errors() as errors:
        if "process_id" in changes:
            try:
                changes["process_id"] = (
                    await processes.resolve(session, principal, changes["process_id"])
                ).id
            except NotFound:
                errors.add("process_id", f"no process {changes['process_id']}")
        if "office_id" in changes:
            office = await session.scalar(
                select(Office).where(
                    Office.id == changes["office_id"], Office.organisation_id == principal.org_id
                )
            )
            if office is None:
                errors.add("office_id", "is not an office of the caller's organisation")
        for field, kind in (
            ("service_types", "service_type"),
            ("themes", "theme"),
            ("languages", "language"),
        ):
            if field in changes:
                changes[field] = errors.check(taxonomy.check, field, kind, changes[field])  # type: ignore[arg-type]
        if "period" in changes:
            period = changes.pop("period")
            if period.end < period.start:
                errors.add("period.end", "is before the start")
            changes["period_start"], changes["period_end"] = period.start, period.end
        if "mandate" in changes:
            mandate = changes.pop("mandate")
            changes["mandate_type"], changes["mandate_reference"] = mandate.type, mandate.reference
        if "addressees" in changes:
            office_id = changes.get("office_id", request.office_id if request else None)
            addressees = changes.pop("addressees")
            with errors.collect():
                changes["addressee_offices"], changes["addressee_orgs"] = await _addressees(
                    session, principal, addressees, office_id
                )
            if request is not None and request.state != "draft":
                dropped = [o for o in request.addressee_offices if o not in addressees]
                if dropped:
                    errors.add(
                        "addressees",
                        f"office {dropped[0]} was sent the request: once submitted, offices are only added",
                    )
        with errors.collect():
            if request is None:
                changes["share_with"] = await resolve_share_with(
                    session, changes["sharing"], changes["share_with"]
                )
            else:
                await resolve_sharing(session, request, changes)
    return changes


async def transition(
    session: AsyncSession, principal: Principal, request: SupportRequest, to: str, note: str = ""
) -> None:
    """Move ``request`` to ``to`` if the lifecycle allows it (409 naming the allowed states if not),
    with a timestamped event."""
    allowed = allowed_transitions(request)
    if to not in allowed:
        raise Conflict(
            f"a request in state '{request.state}' cannot become '{to}'"
            + (f"; it can become: {', '.join(allowed)}" if allowed else "; it is closed"),
            allowed=allowed,
        )
    session.add(
        RequestEvent(
            request_id=request.id,
            organisation_id=principal.org_id,
            from_state=request.state,
            to_state=to,
            note=note,
        )
    )
    change = {"request_id": str(request.id), "from": request.state, "to": to}
    # a draft's addressees learn of it when it is submitted, and of nothing before (a withdrawn draft)
    seen_by_addressees = request.state != "draft" or to == "submitted"
    request.held_from = request.state if to == "on-hold" else None
    request.state = to
    now = datetime.now(UTC)
    if to == "submitted" and request.submitted_at is None:
        request.submitted_at = now
    if to in ("completed", "cancelled"):
        request.closed_at = now
    request.version += 1
    await session.flush()
    if to in ("completed", "cancelled") and change["from"] in OPEN:
        await overlaps.left(session, principal, request.id)  # its part in cases spanning nodes ends
    await tell(
        session,
        _parties(request) if seen_by_addressees else [request.organisation_id],
        "request.state_changed",
        change,
    )
    if to == "submitted" and change["from"] == "draft":
        await _received(session, request, request.addressee_offices)


async def _received(session: AsyncSession, request: SupportRequest, offices: list[UUID]) -> None:
    """Tell the organisations of newly addressed ``offices`` which of their offices received it."""
    by_organisation: dict[UUID, list[str]] = {}
    for office_id, organisation_id in zip(request.addressee_offices, request.addressee_orgs, strict=True):
        if office_id in offices:
            by_organisation.setdefault(organisation_id, []).append(str(office_id))
    for organisation_id, offices_told in by_organisation.items():
        await tell(
            session,
            [organisation_id],
            "request.received",
            {"request_id": str(request.id), "offices": offices_told},
        )


async def create_request(
    session: AsyncSession,
    principal: Principal,
    data: schemas.RequestCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.RequestDetail | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "request.create",
        data,
        lambda: _create_request(session, principal, data, origin),
    )


async def _create_request(
    session: AsyncSession, principal: Principal, data: schemas.RequestCreate, origin: str
) -> schemas.RequestDetail:
    changes = await _validated(session, principal, set_fields(data), None)
    request = SupportRequest(organisation_id=principal.org_id, origin=origin, state="draft", **changes)
    session.add(request)
    await session.flush()
    session.add(
        RequestEvent(
            request_id=request.id, organisation_id=principal.org_id, from_state=None, to_state="draft"
        )
    )
    await session.flush()
    await session.refresh(request)
    await record_action(session, principal, "request.create", "request", request.id, data)
    return await request_detail(session, principal, request)


async def update_request(
    session: AsyncSession,
    principal: Principal,
    request_id: UUID,
    data: schemas.RequestUpdate,
    if_match: str | None,
) -> schemas.RequestDetail:
    """Change a request; organisations it is newly addressed to (once submitted) are told."""
    request = await owned(session, principal, request_id)
    check_version(if_match, request.version)
    changes = set_fields(data)
    state = changes.pop("state", None)
    if changes and request.state in ("completed", "cancelled"):
        raise Conflict(f"a {request.state} request cannot change", allowed=[])
    before = list(request.addressee_offices)
    changes = await _validated(session, principal, changes, request)
    if changes:
        await apply_changes(session, request, changes, None)  # If-Match was checked above
    if state is not None and state != request.state:
        if state not in BY_PATCH or (state in ("submitted", "received") and request.state != "on-hold"):
            allowed = [s for s in allowed_transitions(request) if s != state]
            raise Conflict(
                f"'{state}' is not set by PATCH from '{request.state}'; "
                "submit, withdraw, close and accepting a response have their own calls",
                allowed=allowed,
            )
        await transition(session, principal, request, state)
    await session.refresh(request)
    added = [
        g for o, g in zip(request.addressee_offices, request.addressee_orgs, strict=True) if o not in before
    ]
    if request.state != "draft":
        await _received(session, request, [o for o in request.addressee_offices if o not in before])
        await across.check_reachable(session, request, await _remote(session, added))
    if request.state in OPEN and any(f in changes for f in OVERLAP_FIELDS):
        await overlaps.detect(session, principal, request.id)
    await across.propagate(session, request, added)
    action = "request.update" if state is None else UPDATE_ACTIONS.get(state, "request.update")
    await record_action(session, principal, action, "request", request_id, data)
    return await request_detail(session, principal, request)


async def submit_request(
    session: AsyncSession, principal: Principal, request_id: UUID
) -> schemas.RequestDetail:
    request = await owned(session, principal, request_id)
    if request.state == "draft" and request.route == "best_matches" and not request.addressee_offices:
        chosen = await routing.best_offices(
            session, principal, request, await _process_of(session, principal, request)
        )
        if not chosen:
            raise Conflict(
                "no office matches this request well enough: name addressees", allowed=["cancelled"]
            )
        request.addressee_offices, request.addressee_orgs = await _addressees(
            session, principal, [m.office_id for m in chosen], request.office_id
        )
        request.routing = [
            msgspec.to_builtins({"office_id": m.office_id, "score": m.score, "reasons": m.reasons})
            for m in chosen
        ]
    if request.state == "draft" and not request.addressee_offices:
        raise Conflict(
            "name at least one addressee, or route the request to the best matches", allowed=["cancelled"]
        )
    await across.check_reachable(session, request, await _remote(session, request.addressee_orgs))
    await transition(session, principal, request, "submitted")
    await overlaps.detect(session, principal, request.id)
    await session.refresh(request)
    await across.propagate(session, request, request.addressee_orgs)
    await record_action(session, principal, "request.submit", "request", request_id)
    return await request_detail(session, principal, request)


async def withdraw_request(
    session: AsyncSession, principal: Principal, request_id: UUID
) -> schemas.RequestDetail:
    request = await owned(session, principal, request_id)
    await transition(session, principal, request, "cancelled")
    await settle_open_offers(session, request)
    await session.refresh(request)
    await across.propagate(session, request)
    await record_action(session, principal, "request.withdraw", "request", request_id)
    return await request_detail(session, principal, request)


async def close_request(
    session: AsyncSession, principal: Principal, request_id: UUID, outcome: schemas.Outcome
) -> schemas.RequestDetail:
    if not outcome.delivered and not outcome.reason.strip():
        raise InvalidInput.field("reason", "say why the support was not delivered")
    if outcome.delivered and outcome.modality is None:
        raise InvalidInput.field("modality", "say how the support was delivered (remote, in_person, both)")
    request = await owned(session, principal, request_id)
    await transition(session, principal, request, "completed", outcome.note)
    request.outcome = msgspec.to_builtins(outcome)
    await settle_open_offers(session, request)
    await session.flush()
    await session.refresh(request)
    await across.propagate(session, request)
    await record_action(session, principal, "request.close", "request", request_id, outcome)
    return await request_detail(session, principal, request)


async def _remote(session: AsyncSession, orgs: list[UUID]) -> list[UUID]:
    """Those of ``orgs`` homed on peers."""
    return [org for org, home in (await across.homes(session, orgs)).items() if home is not None]


async def settle_open_offers(session: AsyncSession, request: SupportRequest) -> None:
    """When a request closes, offers never accepted are marked not selected."""
    for response in await session.scalars(
        select(RequestResponse).where(
            RequestResponse.request_id == request.id,
            RequestResponse.status == "open",
            RequestResponse.kind == "offer",
        )
    ):
        response.status = "not_selected"
        response.version += 1
    await session.flush()


async def _process_of(session: AsyncSession, principal: Principal, request: SupportRequest) -> Process | None:
    """The request's process, for routing; None when the caller may not see it."""
    return await session.scalar(
        select(Process).where(Process.id == request.process_id, visible(Process, principal))
    )


async def request_matches(session: AsyncSession, principal: Principal, request_id: UUID) -> schemas.Matches:
    request = await get_request(session, principal, request_id)
    if request.organisation_id != principal.org_id:
        raise Forbidden("only the requesting organisation sees the matches")
    return await routing.matches(session, principal, request, await _process_of(session, principal, request))
