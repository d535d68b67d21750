"""Deconfliction: detection (through the database function of migration 0009), the case views the
parties see, sharing, messages, and the resolution every party agrees to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Text, Uuid, column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.db.base import new_id
from msnet.db.engine import set_organisation
from msnet.directory.models import Office
from msnet.errors import Conflict, Errors, InvalidInput, NotFound
from msnet.fields import Period
from msnet.outbox.service import tell
from msnet.overlaps import schemas
from msnet.overlaps.models import (
    OverlapCase,
    OverlapDismissal,
    OverlapMember,
    OverlapMessage,
    OverlapPair,
    OverlapProposal,
)
from msnet.processes.models import Process
from msnet.processes.schemas import ProcessRef
from msnet.search import next_cursor, page_after
from msnet.sharing import slugs_of, visible

_DETECT = text("SELECT case_id, news FROM msnet_overlap_detect(:request, :case)")
_WITHDRAW = text("SELECT request_id, from_state, parties FROM msnet_overlap_withdraw(:case, :event)")
#: What deconfliction reads of support requests itself: the description an owner shares into a case.
#: Requests sit above deconfliction (they call detect, with the request's id as the reference), so
#: this package does not import theirs; migration 0009's functions read the rest in the database.
_REQUESTS = table("requests", column("id", Uuid()), column("description", Text()))


# --- across nodes --------------------------------------------------------------------------


class Across(Protocol):
    """What deconfliction asks of the nodes a case spans: federation (``msnet.federation.coordination``,
    which sits above this package) registers one in :data:`ACROSS` when the application starts."""

    async def submitted(self, session: AsyncSession, principal: Principal, request_id: UUID) -> bool:
        """The caller's open request was submitted or changed: tell its process's coordinator, and
        answer True, when that is another node (then nothing is detected here)."""

    async def detected(self, session: AsyncSession, principal: Principal, case_id: UUID) -> None:
        """A case coordinated here was opened or changed: tell the other nodes holding its requests."""

    async def left(self, session: AsyncSession, principal: Principal, request_id: UUID) -> None:
        """The caller's request was withdrawn or closed: end its part in cases spanning nodes."""

    async def messaged(self, session: AsyncSession, principal: Principal, message: OverlapMessage) -> None:
        """A party wrote in a case: carry it to the other parties' nodes."""

    async def resolved(
        self,
        session: AsyncSession,
        principal: Principal,
        case_id: UUID,
        data: schemas.Resolution,
        proposal: UUID,
    ) -> None:
        """A party proposed (``proposal``, now open) or agreed: carry it to the other parties' nodes."""


ACROSS: list[Across] = []


async def left(session: AsyncSession, principal: Principal, request_id: UUID) -> None:
    """The caller's request was withdrawn or closed (called by requests)."""
    for across in ACROSS:
        await across.left(session, principal, request_id)


# --- detection -----------------------------------------------------------------------------


async def detect(session: AsyncSession, principal: Principal, request_id: UUID) -> UUID | None:
    """Check the caller's open request against every organisation's open requests (and the facts
    other nodes told of theirs); a match opens or joins a case, and when that is news every party is
    told at once. Returns the case id. A request on a process another node coordinates is told to
    that node instead (None)."""
    for across in ACROSS:
        if await across.submitted(session, principal, request_id):
            return None
    found = (await session.execute(_DETECT, {"request": request_id, "case": new_id()})).first()
    if found is None:
        return None
    case_id, news = found
    if news:
        await announce(session, principal, case_id, {"request_id": str(request_id)})
    for across in ACROSS:
        await across.detected(session, principal, case_id)
    return case_id


async def announce(session: AsyncSession, principal: Principal, case_id: UUID, cause: dict[str, Any]) -> None:
    """Tell every party of the case that it was opened or joined; ``cause`` goes to the audit log."""
    case = await _case(session, principal, case_id)
    slugs = await slugs_of(session, case.parties)
    await tell(session, case.parties, "overlap.detected", _disclosed(case, slugs))
    await record_action(session, principal, "overlap.detected", "overlap_case", case.id, cause)


async def cases_of(
    session: AsyncSession, principal: Principal, request_ids: list[UUID]
) -> dict[UUID, list[UUID]]:
    """The cases each of the caller's own ``request_ids`` is in, oldest first: ids only, which tell
    the requester that its request overlaps and nothing of who else is in the case."""
    if not request_ids:
        return {}
    found: dict[UUID, list[UUID]] = {}
    for request_id, case_id in await session.execute(
        select(OverlapMember.request_id, OverlapMember.case_id)
        .join(OverlapCase, OverlapCase.id == OverlapMember.case_id)
        .where(
            OverlapMember.request_id.in_(request_ids),
            OverlapMember.organisation_id == principal.org_id,
            _party(principal),
        )
        .order_by(OverlapMember.joined_at, OverlapCase.id)
    ):
        found.setdefault(request_id, []).append(case_id)
    return found


def _disclosed(case: OverlapCase, slugs: dict[UUID, str]) -> dict[str, Any]:
    """What a webhook may say of a case: only what every party may learn."""
    return {
        "case_id": str(case.id),
        "process_id": str(case.process_id),
        "organisations": sorted(slugs[p] for p in case.parties),
        "period": {"start": case.period_start.isoformat(), "end": case.period_end.isoformat()}
        if case.period_start and case.period_end
        else None,
        "service_types": list(case.service_types),
        "themes": list(case.themes),
        "dimensions": _dimensions(case.service_types, case.themes),
    }


def _dimensions(service_types: list[str], themes: list[str]) -> list[str]:
    return [
        "process",
        "period",
        *(["service_types"] if service_types else []),
        *(["themes"] if themes else []),
    ]


# --- reading -------------------------------------------------------------------------------


def _party(principal: Principal) -> Any:
    """The query-side twin of the cases' row-level security policy."""
    return OverlapCase.parties.contains([principal.org_id])


async def _case(
    session: AsyncSession, principal: Principal, case_id: UUID, *, lock: bool = False
) -> OverlapCase:
    query = select(OverlapCase).where(OverlapCase.id == case_id, _party(principal))
    if lock:
        query = query.with_for_update()
    case = await session.scalar(query.execution_options(populate_existing=True))
    if case is None:
        raise NotFound(f"no overlap case {case_id}")
    return case


def _proposal(p: OverlapProposal, parties: list[UUID], slugs: dict[UUID, str]) -> schemas.Proposal:
    return schemas.Proposal(
        id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        proposed_by=slugs[p.organisation_id],
        lead_office_id=p.lead_office_id,
        member=p.member,
        note=p.note,
        status=p.status,  # type: ignore[arg-type]
        agreed_by=sorted(slugs[o] for o in p.agreed_by),
        awaiting=sorted(slugs[o] for o in parties if o not in p.agreed_by) if p.status == "open" else [],
        created_at=p.created_at,
        decided_at=p.decided_at,
    )


async def case_schema(session: AsyncSession, principal: Principal, case: OverlapCase) -> schemas.OverlapCase:
    return (await case_schemas(session, principal, [case]))[0]


async def case_schemas(
    session: AsyncSession, principal: Principal, cases: list[OverlapCase]
) -> list[schemas.OverlapCase]:
    """The views of ``cases``, with their members, pairs and proposals read for all of them at once."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    members = _by_case(
        ids,
        await session.scalars(
            select(OverlapMember).where(OverlapMember.case_id.in_(ids)).order_by(OverlapMember.position)
        ),
    )
    pairs = _by_case(
        ids,
        await session.scalars(
            select(OverlapPair)
            .where(OverlapPair.case_id.in_(ids))
            .order_by(OverlapPair.request_a, OverlapPair.request_b)
        ),
    )
    proposals = _by_case(
        ids,
        await session.scalars(
            select(OverlapProposal)
            .where(OverlapProposal.case_id.in_(ids), OverlapProposal.status.in_(("open", "agreed")))
            .order_by(OverlapProposal.created_at)
        ),
    )
    slugs = await slugs_of(
        session,
        list(
            {
                *(o for c in cases for o in c.parties),
                *(o for ms in members.values() for m in ms for o in m.parties),
                *(o for ps in proposals.values() for p in ps for o in (p.organisation_id, *p.agreed_by)),
            }
        ),
    )
    process_names = dict(
        (
            await session.execute(
                select(Process.id, Process.name).where(
                    Process.id.in_({c.process_id for c in cases}), visible(Process, principal)
                )
            )
        ).all()
    )
    return [
        _case_view(
            principal, c, members[c.id], pairs[c.id], proposals[c.id], slugs, process_names.get(c.process_id)
        )
        for c in cases
    ]


def _by_case(ids: list[UUID], rows: Iterable[Any]) -> dict[UUID, list[Any]]:
    """``rows`` (each with a ``case_id``) by case, in the order they came, every case present."""
    grouped: dict[UUID, list[Any]] = {i: [] for i in ids}
    for row in rows:
        grouped[row.case_id].append(row)
    return grouped


def _case_view(
    principal: Principal,
    case: OverlapCase,
    members: list[OverlapMember],
    pairs: list[OverlapPair],
    proposals: list[OverlapProposal],
    slugs: dict[UUID, str],
    process_name: str | None,
) -> schemas.OverlapCase:
    position = {m.request_id: m.position for m in members}
    by_status = {p.status: _proposal(p, case.parties, slugs) for p in proposals}
    return schemas.OverlapCase(
        id=case.id,
        status=case.status,  # type: ignore[arg-type]
        process=ProcessRef(id=case.process_id, name=process_name),
        organisations=sorted(slugs[p] for p in case.parties),
        period=Period(start=case.period_start, end=case.period_end),  # type: ignore[arg-type]
        service_types=list(case.service_types),
        themes=list(case.themes),
        dimensions=_dimensions(case.service_types, case.themes),  # type: ignore[arg-type]
        explanation=[
            schemas.PairExplanation(
                members=sorted((position[p.request_a], position[p.request_b])),
                dimensions=_dimensions(p.service_types, p.themes),  # type: ignore[arg-type]
                period=Period(start=p.period_start, end=p.period_end),
                service_types=list(p.service_types),
                themes=list(p.themes),
            )
            for p in pairs
        ],
        members=[
            schemas.Member(
                position=m.position,
                organisation=slugs[m.organisation_id],
                parties=sorted(slugs[o] for o in m.parties),
                request_id=m.request_id if m.organisation_id == principal.org_id else None,
                shared=m.description is not None,
                description=m.description,
            )
            for m in members
        ],
        proposal=by_status.get("open"),
        resolution=by_status.get("agreed"),
        resolved_at=case.resolved_at,
        version=case.version,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


async def get_case(session: AsyncSession, principal: Principal, case_id: UUID) -> schemas.OverlapCase:
    return await case_schema(session, principal, await _case(session, principal, case_id))


async def list_cases(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, cursor: str | None
) -> schemas.OverlapPage:
    """Cases the caller is a party to, newest first."""
    conditions = [_party(principal)]
    if status:
        conditions.append(OverlapCase.status == status)
    total = await session.scalar(select(func.count()).select_from(OverlapCase).where(*conditions))
    query = page_after(
        select(OverlapCase).where(*conditions), cursor, None, OverlapCase.id, newest_first=True
    )
    rows = list(await session.scalars(query.limit(limit + 1)))
    return schemas.OverlapPage(
        items=await case_schemas(session, principal, rows[:limit]),
        next_cursor=next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


async def joined_between(
    session: AsyncSession, principal: Principal, after: datetime, until: datetime, *, limit: int
) -> tuple[int, list[schemas.OverlapCase]]:
    """The open cases the caller's organisation became a party to in (``after``, ``until``]: when the
    first request naming it (as requester or addressee) joined the case. How many, and the oldest
    ``limit`` of them."""
    became = func.min(OverlapMember.joined_at)
    joined = (
        select(OverlapMember.case_id)
        .where(OverlapMember.parties.contains([principal.org_id]))
        .group_by(OverlapMember.case_id)
        .having(became > after, became <= until)
    )
    conditions = [OverlapCase.id.in_(joined), OverlapCase.status == "open", _party(principal)]
    total = await session.scalar(select(func.count()).select_from(OverlapCase).where(*conditions))
    rows = list(
        await session.scalars(
            select(OverlapCase)
            .where(*conditions)
            .order_by(OverlapCase.created_at, OverlapCase.id)
            .limit(limit)
        )
    )
    return total or 0, await case_schemas(session, principal, rows)


# --- sharing and messages ------------------------------------------------------------------


async def share(
    session: AsyncSession, principal: Principal, case_id: UUID, data: schemas.Share
) -> schemas.OverlapCase:
    """Show (or hide again) the description of one of the caller's requests to the case's parties:
    its description as it is now."""
    case = await _case(session, principal, case_id)
    member = await session.scalar(
        select(OverlapMember).where(
            OverlapMember.case_id == case.id,
            OverlapMember.request_id == data.request_id,
            OverlapMember.organisation_id == principal.org_id,
        )
    )
    if member is None:
        raise InvalidInput.field("request_id", "is not one of the caller's requests in this case")
    description = await session.scalar(
        select(_REQUESTS.c.description).where(_REQUESTS.c.id == data.request_id)
    )
    member.description = description if data.shared else None
    member.shared_at = datetime.now(UTC) if data.shared else None
    await session.flush()
    await record_action(session, principal, "overlap.share", "overlap_case", case_id, data)
    return await case_schema(session, principal, case)


async def post_message(
    session: AsyncSession,
    principal: Principal,
    case_id: UUID,
    data: schemas.MessageCreate,
    *,
    message_id: UUID | None = None,
) -> schemas.Message:
    """Write to the other parties; ``message_id``: the id the message has on the node it was written on
    (a party's node carrying it here)."""
    case = await _case(session, principal, case_id)
    if case.status != "open":
        raise Conflict("the case is resolved; it takes no more messages")
    if not data.body.strip():
        raise InvalidInput.field("body", "is empty")
    message = OverlapMessage(
        id=message_id or new_id(),
        case_id=case.id,
        organisation_id=principal.org_id,
        actor=principal.actor,
        body=data.body,
    )
    session.add(message)
    await session.flush()
    await session.refresh(message)
    await tell(
        session,
        case.parties,
        "overlap.message",
        {"case_id": str(case.id), "message_id": str(message.id), "organisation": principal.org_slug},
    )
    await record_action(session, principal, "overlap.message", "overlap_message", message.id, data)
    for across in ACROSS:
        await across.messaged(session, principal, message)
    return schemas.Message(
        id=message.id,
        case_id=case.id,
        organisation=principal.org_slug,
        body=message.body,
        created_at=message.created_at,
    )


async def list_messages(
    session: AsyncSession, principal: Principal, case_id: UUID, *, limit: int, cursor: str | None
) -> schemas.MessagePage:
    case = await _case(session, principal, case_id)
    conditions = [OverlapMessage.case_id == case.id]
    total = await session.scalar(select(func.count()).select_from(OverlapMessage).where(*conditions))
    query = page_after(select(OverlapMessage).where(*conditions), cursor, None, OverlapMessage.id)
    rows = list(await session.scalars(query.limit(limit + 1)))
    slugs = await slugs_of(session, list({m.organisation_id for m in rows}))
    return schemas.MessagePage(
        items=[
            schemas.Message(
                id=m.id,
                case_id=m.case_id,
                organisation=slugs[m.organisation_id],
                body=m.body,
                created_at=m.created_at,
            )
            for m in rows[:limit]
        ],
        next_cursor=next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


# --- resolution ----------------------------------------------------------------------------


async def resolve(
    session: AsyncSession,
    principal: Principal,
    case_id: UUID,
    data: schemas.Resolution,
    *,
    proposal_id: UUID | None = None,
) -> schemas.OverlapCase:
    """Propose a resolution, or agree to the open proposal; when every party has agreed the case is
    resolved and every party is told. ``proposal_id``: the id a proposal has on the node it was made
    on (a party's node carrying it here)."""
    case = await _case(session, principal, case_id, lock=True)
    if case.status != "open":
        raise Conflict("the case is already resolved", allowed=[])
    if data.agree is not None:
        proposal = await _agree(session, principal, case, data)
    else:
        proposal = await _propose(session, principal, case, data, proposal_id or new_id())
    if set(case.parties) <= set(proposal.agreed_by):
        await _settle(session, principal, case, proposal)
    await session.flush()
    action = "overlap.agree" if data.agree is not None else "overlap.propose"
    await record_action(session, principal, action, "overlap_case", case_id, data)
    for across in ACROSS:
        await across.resolved(session, principal, case_id, data, proposal.id)
    return await case_schema(session, principal, await _case(session, principal, case_id))


async def _agree(
    session: AsyncSession, principal: Principal, case: OverlapCase, data: schemas.Resolution
) -> OverlapProposal:
    with Errors() as errors:
        for name in ("kind", "lead_office_id", "member", "note"):
            if getattr(data, name) not in (None, "", schemas.UNSET):
                errors.add(name, "an agreement names only the proposal it agrees to")
        proposal = await session.scalar(
            select(OverlapProposal).where(
                OverlapProposal.id == data.agree, OverlapProposal.case_id == case.id
            )
        )
        if proposal is None:
            errors.add("agree", f"no proposal {data.agree} in this case")
    if proposal.status != "open":
        raise Conflict(f"proposal {proposal.id} is {proposal.status}; agree to the open one")
    if principal.org_id not in proposal.agreed_by:
        proposal.agreed_by = [*proposal.agreed_by, principal.org_id]
    return proposal


async def _propose(
    session: AsyncSession,
    principal: Principal,
    case: OverlapCase,
    data: schemas.Resolution,
    proposal_id: UUID,
) -> OverlapProposal:
    if data.kind is schemas.UNSET:
        raise InvalidInput.field("kind", "propose a resolution (kind), or agree to one (agree)")
    with Errors() as errors:
        if data.kind != "coordinate" and data.lead_office_id is not None:
            errors.add("lead_office_id", "is named only when the parties coordinate")
        if data.kind != "withdraw" and data.member is not None:
            errors.add("member", "is named only when a request is withdrawn")
        if data.kind == "coordinate":
            if data.lead_office_id is None:
                errors.add("lead_office_id", "name the office that leads")
            elif (
                await session.scalar(
                    select(Office.organisation_id).where(
                        Office.id == data.lead_office_id, visible(Office, principal)
                    )
                )
                not in case.parties
            ):
                errors.add("lead_office_id", "is not an office of a party to this case")
        if data.kind == "complementary" and not data.note.strip():
            errors.add("note", "say each one's scope")
        if data.kind == "withdraw":
            if data.member is None:
                errors.add("member", "name the member (its position) to withdraw")
            elif not await session.scalar(
                select(OverlapMember.position).where(
                    OverlapMember.case_id == case.id, OverlapMember.position == data.member
                )
            ):
                errors.add("member", f"the case has no member {data.member}")
    now = datetime.now(UTC)
    for earlier in await session.scalars(
        select(OverlapProposal).where(OverlapProposal.case_id == case.id, OverlapProposal.status == "open")
    ):
        earlier.status, earlier.decided_at = "superseded", now
    proposal = OverlapProposal(
        id=proposal_id,
        case_id=case.id,
        organisation_id=principal.org_id,
        kind=data.kind,
        lead_office_id=data.lead_office_id,
        member=data.member,
        note=data.note,
        status="open",
        agreed_by=[principal.org_id],
    )
    session.add(proposal)
    await session.flush()
    await session.refresh(proposal)
    return proposal


async def _settle(
    session: AsyncSession, principal: Principal, case: OverlapCase, proposal: OverlapProposal
) -> None:
    now = datetime.now(UTC)
    proposal.status, proposal.decided_at = "agreed", now
    case.status, case.resolved_at, case.version, case.updated_at = "resolved", now, case.version + 1, now
    case.resolution = {
        "kind": proposal.kind,
        "proposal_id": str(proposal.id),
        "lead_office_id": str(proposal.lead_office_id) if proposal.lead_office_id else None,
        "member": proposal.member,
        "note": proposal.note,
    }
    await session.flush()
    if proposal.kind == "not_an_overlap":
        for pair in await session.scalars(select(OverlapPair).where(OverlapPair.case_id == case.id)):
            session.add(OverlapDismissal(request_a=pair.request_a, request_b=pair.request_b, case_id=case.id))
        await session.flush()
    if proposal.kind == "withdraw":
        withdrawn = (await session.execute(_WITHDRAW, {"case": case.id, "event": new_id()})).first()
        if withdrawn is not None:
            change = {
                "request_id": str(withdrawn.request_id),
                "from": withdrawn.from_state,
                "to": "cancelled",
            }
            await tell(session, withdrawn.parties, "request.state_changed", change)
            await _left_by_resolution(session, principal, case, withdrawn.request_id)
    slugs = await slugs_of(session, case.parties)
    await tell(
        session,
        case.parties,
        "overlap.resolved",
        {**_disclosed(case, slugs), "resolution": case.resolution},
    )


async def _left_by_resolution(
    session: AsyncSession, principal: Principal, case: OverlapCase, request_id: UUID
) -> None:
    """The request ``case``'s resolution withdrew ends its part in the cases spanning nodes, as its
    withdrawal does (:func:`left`, which tells the coordinator of a case on another node's process),
    for its organisation, which agreed to it: the caller may be another party (the last agreement,
    carried here from its node, or made here by a party homed on this node)."""
    owner = (
        await session.scalars(
            select(OverlapMember.organisation_id).where(
                OverlapMember.case_id == case.id, OverlapMember.request_id == request_id
            )
        )
    ).one()
    if owner == principal.org_id:
        await left(session, principal, request_id)
        return
    slugs = await slugs_of(session, [owner])
    await set_organisation(session, owner)
    await left(session, replace(principal, org_id=owner, org_slug=slugs[owner]), request_id)
    await set_organisation(session, principal.org_id)
