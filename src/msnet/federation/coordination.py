"""Deconfliction across nodes: the home node of a process (its ``origin``) coordinates the overlaps of
the requests on it, wherever they were submitted.

- **Requester's node.** When one of its requests on a process homed on a peer is submitted, or its
  process, period or services change, it sends the coordinator ``overlap.facts``: the requesting
  organisation, the process, the period, the service types, and an opaque reference
  (``overlap_references``) — never the title, description, themes, addressees or the request's id.
  When the request is withdrawn or closed (by its organisation, or by a "withdraw" its case's
  parties agreed) it sends ``overlap.left``.
- **Coordinator.** It keeps each request's facts (``overlap_facts``), runs the one detection over its
  own open requests and the facts, and sends ``overlap.case`` (the case as its parties see it: the
  process, the overlapping period, service types and themes, the parties, each member's reference)
  to each node that holds a request of the case, and to no other. A member that leaves is taken out
  of its cases, and its node and the remaining ones are told.
- **Parties' nodes.** They write the case as a mirror (``msnet_overlap_mirror``), after checking that
  the sender is the process's home and that each of their own members is a reference they gave it.
  Messages (``overlap.message``) and proposals and agreements (``overlap.resolution``) go from the
  node of the party that wrote them to the nodes of the other parties, where the same services take
  them acting for that party; the coordinator, unless it homes a party, sees none of them.

Each message taken is audit-logged on the receiving node with the sending node and organisation as
the actor (``node:ISSUER#SLUG``); each one sent, on the sending node under the local actor, naming
the receiving nodes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec
from msgspec import Meta
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import Struct
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.db.base import new_id
from msnet.db.engine import set_organisation
from msnet.errors import Conflict, Errors, Forbidden, InvalidInput, NotFound
from msnet.federation import inbox
from msnet.federation.contact import acting_for
from msnet.federation.models import Peer
from msnet.fields import Period, Slug, TermId
from msnet.organisations.models import Organisation
from msnet.overlaps import schemas as overlap_schemas
from msnet.overlaps import service as overlaps
from msnet.overlaps.models import (
    OverlapCase,
    OverlapFact,
    OverlapMember,
    OverlapMessage,
    OverlapProposal,
    OverlapReference,
)
from msnet.processes import service as processes
from msnet.processes.models import Process
from msnet.requests.models import SupportRequest
from msnet.requests.service import OPEN
from msnet.taxonomy import service as taxonomy

FACTS = "overlap.facts"
LEFT = "overlap.left"
CASE = "overlap.case"
MESSAGE = "overlap.message"
RESOLUTION = "overlap.resolution"
SETTLED = "overlap.settled"

_DETECT_FACT = text("SELECT case_id, news FROM msnet_overlap_detect_fact(:reference, :case)")
_LEAVE = text("SELECT case_id, nodes, snapshot FROM msnet_overlap_leave(:member)")
_SNAPSHOT = text("SELECT msnet_overlap_snapshot(:case)")
_MIRROR = text("SELECT msnet_overlap_mirror(CAST(:case AS jsonb), :coordinator, :may_open)")

Step = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Position = Annotated[int, Meta(ge=1, le=10_000)]
Terms = Annotated[list[TermId], Meta(max_length=40)]


# --- the messages ------------------------------------------------------------------------------


class Facts(Struct):
    """What a requester's node tells the coordinator of one of its requests: all detection needs."""

    reference: UUID
    organisation: Slug
    process_id: UUID
    period: Period
    service_types: Annotated[list[TermId], Meta(min_length=1, max_length=40)]
    step: Step


class Left(Struct):
    """The request behind ``reference`` was withdrawn or closed."""

    reference: UUID
    organisation: Slug
    step: Step


class CaseMember(Struct):
    position: Position
    organisation_id: UUID
    parties: Annotated[list[UUID], Meta(max_length=100)]
    #: the node holding the request; None: the coordinator
    node: Annotated[str, Meta(max_length=300)] | None
    reference: UUID


class CasePair(Struct):
    a: Position
    b: Position
    period_start: date
    period_end: date
    service_types: Terms
    themes: Terms


class CaseNotice(Struct):
    """A case as its parties see it, from its coordinator, sent on behalf of ``organisation`` (the
    process's proposer, homed on the coordinator)."""

    organisation: Slug
    id: UUID
    process_id: UUID
    status: Literal["open", "resolved"]
    version: Step
    parties: Annotated[list[UUID], Meta(min_length=1, max_length=100)]
    period_start: date | None
    period_end: date | None
    service_types: Terms
    themes: Terms
    members: Annotated[list[CaseMember], Meta(max_length=1000)]
    pairs: Annotated[list[CasePair], Meta(max_length=10_000)]


class CaseMessage(Struct):
    organisation: Slug
    case_id: UUID
    id: UUID
    body: Annotated[str, Meta(min_length=1, max_length=4000)]


class Settled(Struct):
    """Every party agreed to a resolution of the case (which one is not said)."""

    organisation: Slug
    case_id: UUID


class CaseResolution(Struct):
    organisation: Slug
    case_id: UUID
    #: the proposal made (its id on every node), or the one agreed to
    proposal_id: UUID
    resolution: overlap_schemas.Resolution


T = TypeVar("T")


def _decode(body: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `$")
        raise InvalidInput.field(path.rstrip("`").lstrip(".") or "body", message) from None


async def _active_peer(session: AsyncSession, issuer: str) -> bool:
    return (
        await session.scalar(select(Peer.id).where(Peer.issuer == issuer, Peer.state == "active"))
    ) is not None


async def _send(
    session: AsyncSession,
    principal: Principal,
    nodes: list[str],
    kind: str,
    key: str,
    subject: UUID,
    body: Any,
) -> None:
    """``body`` to each of ``nodes``, once per ``key``, in order per ``subject``; audited here."""
    for node in nodes:
        await inbox.send(
            session, to=node, kind=kind, key=key, subject=str(subject), body=msgspec.to_builtins(body)
        )
    await record_action(session, principal, f"{kind}.sent", kind.split(".")[0], subject, {"nodes": nodes})


# --- the hooks deconfliction calls -------------------------------------------------------------


class Coordination:
    """Deconfliction's :class:`msnet.overlaps.service.Across`, registered by :func:`install`."""

    async def submitted(self, session: AsyncSession, principal: Principal, request_id: UUID) -> bool:
        request = await session.scalar(
            select(SupportRequest).where(
                SupportRequest.id == request_id, SupportRequest.organisation_id == principal.org_id
            )
        )
        if request is None or request.state not in OPEN:
            return False
        try:
            process = await processes.resolve(session, principal, request.process_id)
        except NotFound:
            return False
        reference = await session.get(OverlapReference, request.id)
        if reference is not None and reference.coordinator != process.origin:
            # its process changed to one homed elsewhere: it leaves the cases of the one it was on
            if await _active_peer(session, reference.coordinator):
                await _tell_left(session, principal, reference)
            reference.reference, reference.coordinator = new_id(), process.origin
            await session.flush()
        if not await _active_peer(session, process.origin):
            return False
        if reference is None:
            reference = OverlapReference(
                request_id=request.id,
                organisation_id=principal.org_id,
                reference=new_id(),
                coordinator=process.origin,
                step=0,
            )
            session.add(reference)
        reference.step += 1
        await session.flush()
        facts = Facts(
            reference=reference.reference,
            organisation=principal.org_slug,
            process_id=process.id,
            period=Period(start=request.period_start, end=request.period_end),
            service_types=list(request.service_types),
            step=reference.step,
        )
        await _send(
            session, principal, [process.origin], FACTS, f"{reference.reference}/{reference.step}",
            reference.reference, facts,
        )  # fmt: skip
        return True

    async def detected(self, session: AsyncSession, principal: Principal, case_id: UUID) -> None:
        snapshot = await session.scalar(_SNAPSHOT, {"case": case_id})
        if snapshot is not None:
            await _tell_nodes(session, principal, snapshot, _nodes_of(snapshot))

    async def left(self, session: AsyncSession, principal: Principal, request_id: UUID) -> None:
        reference = await session.get(OverlapReference, request_id)
        if reference is not None and await _active_peer(session, reference.coordinator):
            await _tell_left(session, principal, reference)
        else:
            await _leave(session, principal, request_id)

    async def messaged(self, session: AsyncSession, principal: Principal, message: OverlapMessage) -> None:
        if principal.kind == "node":  # carried here from another node: not carried further
            return
        nodes = await _party_nodes(session, message.case_id)
        if nodes:
            body = CaseMessage(
                organisation=principal.org_slug, case_id=message.case_id, id=message.id, body=message.body
            )
            await _send(session, principal, nodes, MESSAGE, str(message.id), message.case_id, body)

    async def resolved(
        self,
        session: AsyncSession,
        principal: Principal,
        case_id: UUID,
        data: overlap_schemas.Resolution,
        proposal: UUID,
    ) -> None:
        nodes = await _party_nodes(session, case_id) if principal.kind != "node" else []
        if nodes:
            body = CaseResolution(
                organisation=principal.org_slug, case_id=case_id, proposal_id=proposal, resolution=data
            )
            step = f"{proposal}/{'agree/' + principal.org_slug if data.agree is not None else 'propose'}"
            await _send(session, principal, nodes, RESOLUTION, step, case_id, body)
        case = await session.scalar(select(OverlapCase).where(OverlapCase.id == case_id))
        if case is not None and case.status == "resolved" and case.coordinator is not None:
            # the coordinator learns, from each party's node, that the case is settled (not how), so
            # that it joins no one to it: every party of this node's says so, on whichever node the
            # last agreement was made, but one whose only request the resolution withdrew here (its
            # node told the coordinator that it left, which takes it out of the case)
            ours = await session.execute(
                select(Organisation.id, Organisation.slug)
                .where(
                    Organisation.id.in_(case.parties),
                    Organisation.home.is_(None),
                    Organisation.id.not_in(await _withdrawn_parties(session, case)),
                )
                .order_by(Organisation.slug)
            )
            for org_id, slug in ours.all():
                body = Settled(organisation=slug, case_id=case_id)
                await inbox.send(
                    session, to=case.coordinator, kind=SETTLED, key=f"{case_id}/{slug}",
                    subject=str(case_id), body=msgspec.to_builtins(body), organisation=org_id,
                )  # fmt: skip
            await record_action(
                session, principal, f"{SETTLED}.sent", "overlap", case_id, {"nodes": [case.coordinator]}
            )


def install() -> None:
    """Make deconfliction reach across nodes (the application calls it once it is made)."""
    if not any(isinstance(across, Coordination) for across in overlaps.ACROSS):
        overlaps.ACROSS.append(Coordination())


async def _party_nodes(session: AsyncSession, case_id: UUID) -> list[str]:
    """The peers homing a party of the case (which the caller is a party to)."""
    parties = await session.scalar(select(OverlapCase.parties).where(OverlapCase.id == case_id))
    return list(
        await session.scalars(
            select(Organisation.home)
            .where(Organisation.id.in_(parties or []), Organisation.home.is_not(None))
            .distinct()
            .order_by(Organisation.home)
        )
    )


async def _withdrawn_parties(session: AsyncSession, case: OverlapCase) -> list[UUID]:
    """The party, if any, whose only request in ``case`` (a mirror) its agreed "withdraw" names."""
    if (case.resolution or {}).get("kind") != "withdraw":
        return []
    members = (
        await session.execute(
            select(OverlapMember.position, OverlapMember.organisation_id).where(
                OverlapMember.case_id == case.id
            )
        )
    ).all()
    requests_of = Counter(org for _, org in members)
    return [
        org for position, org in members if position == case.resolution["member"] and requests_of[org] == 1
    ]


async def _tell_left(session: AsyncSession, principal: Principal, reference: OverlapReference) -> None:
    reference.step += 1
    await session.flush()
    body = Left(reference=reference.reference, organisation=principal.org_slug, step=reference.step)
    await _send(
        session, principal, [reference.coordinator], LEFT, f"{reference.reference}/{reference.step}",
        reference.reference, body,
    )  # fmt: skip


def _nodes_of(snapshot: dict[str, Any]) -> list[str]:
    return sorted({m["node"] for m in snapshot["members"] if m["node"]})


async def _tell_nodes(
    session: AsyncSession, principal: Principal, snapshot: dict[str, Any], nodes: list[str]
) -> None:
    """The coordinator's case, as ``snapshot`` has it, to ``nodes``: sent on behalf of the process's
    proposer, once per content."""
    if not nodes:
        return
    proposer = await session.scalar(
        select(Organisation.slug)
        .join(Process, Process.organisation_id == Organisation.id)
        .where(Process.id == UUID(snapshot["process_id"]))
    )
    body = {"organisation": proposer, **snapshot}
    content = hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()[:16]
    key = f"{snapshot['id']}/{snapshot['version']}/{content}"
    await _send(session, principal, nodes, CASE, key, UUID(snapshot["id"]), body)


async def _leave(session: AsyncSession, principal: Principal, member: UUID) -> None:
    """Take ``member`` (the caller's request, or a fact of its organisation) out of the open cases
    coordinated here that span nodes; tell the nodes that held a request of each."""
    for case_id, nodes, snapshot in (await session.execute(_LEAVE, {"member": member})).all():
        await record_action(
            session, principal, "overlap.left", "overlap_case", case_id, {"member": str(member)}
        )
        await _tell_nodes(session, principal, snapshot, list(nodes))


# --- the coordinator's side --------------------------------------------------------------------


@inbox.handles(FACTS)
async def take_facts(session: AsyncSession, message: inbox.Message) -> None:
    """A peer's request on a process homed here: keep its facts and detect."""
    facts = _decode(message.body, Facts)
    principal = await acting_for(session, message.node, facts.organisation)
    with Errors() as errors:
        try:
            process = await processes.resolve(session, principal, facts.process_id)
            if await _active_peer(session, process.origin):
                errors.add("process_id", f"is coordinated by its home node, {process.origin}")
        except NotFound:
            errors.add("process_id", f"no process {facts.process_id}")
        errors.check(taxonomy.check, "service_types", "service_type", facts.service_types)
        if facts.period.end < facts.period.start:
            errors.add("period.end", "is before the start")
    fact = await session.get(OverlapFact, facts.reference)
    values = {
        "process_id": process.id,
        "period_start": facts.period.start,
        "period_end": facts.period.end,
        "service_types": sorted(set(facts.service_types)),
        "step": facts.step,
    }
    if fact is None:
        taken = await session.scalar(
            insert(OverlapFact)
            .values(
                reference=facts.reference,
                organisation_id=principal.org_id,
                peer_id=message.sender.id,
                **values,
            )
            .on_conflict_do_nothing()
            .returning(OverlapFact.reference)
        )
        if taken is None:
            raise Conflict(f"reference {facts.reference} is taken")
    elif fact.peer_id != message.sender.id:
        raise Forbidden(f"reference {facts.reference} was told by another node")
    elif fact.step >= facts.step:
        return  # an older telling, arrived late
    else:
        for name, value in values.items():
            setattr(fact, name, value)
        await session.flush()
    await record_action(
        session, principal, "overlap.facts.received", "overlap_fact", facts.reference,
        {"process_id": str(process.id), "step": facts.step},
    )  # fmt: skip
    found = (await session.execute(_DETECT_FACT, {"reference": facts.reference, "case": new_id()})).first()
    if found is None:
        return
    case_id, news = found
    if news:
        await overlaps.announce(session, principal, case_id, {"reference": str(facts.reference)})
    snapshot = await session.scalar(_SNAPSHOT, {"case": case_id})
    await _tell_nodes(session, principal, snapshot, _nodes_of(snapshot))


@inbox.handles(LEFT)
async def take_left(session: AsyncSession, message: inbox.Message) -> None:
    """A peer's request was withdrawn or closed: its part in the cases coordinated here ends."""
    left = _decode(message.body, Left)
    principal = await acting_for(session, message.node, left.organisation)
    fact = await session.get(OverlapFact, left.reference)
    if fact is None or fact.peer_id != message.sender.id:
        raise NotFound(f"no request {left.reference} of {left.organisation} was told here")
    if fact.step >= left.step:
        return
    await _leave(session, principal, fact.reference)
    await session.delete(fact)
    await session.flush()
    await record_action(session, principal, "overlap.left.received", "overlap_fact", left.reference)


@inbox.handles(SETTLED)
async def take_settled(session: AsyncSession, message: inbox.Message) -> None:
    """A party's node saw every party agree: the case, coordinated here, takes no one else."""
    settled = _decode(message.body, Settled)
    principal = await acting_for(session, message.node, settled.organisation)
    case = await session.scalar(
        select(OverlapCase)
        .where(OverlapCase.id == settled.case_id, OverlapCase.parties.contains([principal.org_id]))
        .with_for_update()
    )
    if case is None or case.coordinator is not None:
        raise NotFound(f"no overlap case {settled.case_id} coordinated here")
    if principal.org_id not in case.settled_by:
        case.settled_by = [*case.settled_by, principal.org_id]
    if case.status == "open" and await _every_party_settled(session, case):
        case.status, case.resolved_at = "resolved", func.now()
        case.version, case.updated_at = case.version + 1, func.now()
    await session.flush()
    await record_action(session, principal, "overlap.settled.received", "overlap_case", case.id)


async def _every_party_settled(session: AsyncSession, case: OverlapCase) -> bool:
    """Whether every party of ``case`` (coordinated here) has settled it: one homed on another node by
    its node's ``overlap.settled``, one homed here by its agreement to the open proposal."""
    homes = dict(
        (
            await session.execute(
                select(Organisation.id, Organisation.home).where(Organisation.id.in_(case.parties))
            )
        ).all()
    )
    agreed = await session.scalar(
        select(OverlapProposal.agreed_by).where(
            OverlapProposal.case_id == case.id, OverlapProposal.status == "open"
        )
    )
    return all(party in (case.settled_by if homes.get(party) else agreed or []) for party in case.parties)


# --- the parties' side -------------------------------------------------------------------------


@inbox.handles(CASE)
async def take_case(session: AsyncSession, message: inbox.Message) -> None:
    """A case from the node coordinating it: written as a mirror, if it names requests of this node
    that were told to that node (or updates a mirror held already)."""
    notice = _decode(message.body, CaseNotice)
    principal = await acting_for(session, message.node, notice.organisation)
    coordinator = message.sender.issuer
    try:
        process = await processes.resolve(session, principal, notice.process_id)
    except NotFound:
        raise InvalidInput.field("process_id", f"no process {notice.process_id}") from None
    if process.origin != coordinator:
        raise Forbidden(f"process {process.id} is homed on {process.origin}, not on {coordinator}")
    named = {*notice.parties, *(m.organisation_id for m in notice.members)}
    homes = dict(
        (
            await session.execute(
                select(Organisation.id, Organisation.home).where(Organisation.id.in_(named))
            )
        ).all()
    )
    mine: set[UUID] = set()
    members: list[dict[str, Any]] = []
    with Errors() as errors:
        for org in sorted(named - homes.keys()):
            errors.add("parties", f"no organisation {org} is known here")
        for i, m in enumerate(notice.members):
            if m.organisation_id not in homes:
                continue
            if homes[m.organisation_id] is None:
                await set_organisation(session, m.organisation_id)
                request_id = await session.scalar(
                    select(OverlapReference.request_id).where(
                        OverlapReference.reference == m.reference,
                        OverlapReference.organisation_id == m.organisation_id,
                        OverlapReference.coordinator == coordinator,
                    )
                )
                if request_id is None:
                    errors.add(f"members.{i}.reference", "names no request of this node told to the sender")
                mine.add(m.organisation_id)
                node = None
            else:
                request_id, node = m.reference, m.node or coordinator
                if homes[m.organisation_id] != node:
                    errors.add(f"members.{i}.node", f"{m.organisation_id} is not homed on {node}")
            members.append(
                {
                    "position": m.position,
                    "request_id": str(request_id),
                    "organisation_id": str(m.organisation_id),
                    "parties": [str(p) for p in m.parties],
                    "node": node,
                }
            )
        by_position = {m["position"]: m["request_id"] for m in members}
        for i, p in enumerate(notice.pairs):
            if p.a not in by_position or p.b not in by_position:
                errors.add(f"pairs.{i}", "names a member the case does not have")
    mirror = {
        **msgspec.to_builtins(notice),
        "members": members,
        "pairs": [
            {**msgspec.to_builtins(p), "a": by_position[p.a], "b": by_position[p.b]} for p in notice.pairs
        ],
    }
    await set_organisation(session, principal.org_id)
    try:
        async with session.begin_nested():
            await session.execute(
                _MIRROR,
                {
                    "case": msgspec.json.encode(mirror).decode(),
                    "coordinator": coordinator,
                    "may_open": bool(mine),
                },
            )
    except DBAPIError:
        raise Forbidden(f"case {notice.id} is not one {coordinator} coordinates with this node") from None
    await record_action(
        session, principal, "overlap.case.received", "overlap_case", notice.id, {"version": notice.version}
    )


@inbox.handles(MESSAGE)
async def take_message(session: AsyncSession, message: inbox.Message) -> None:
    """A message a party wrote on its node, to the case here (where that party must be a party)."""
    written = _decode(message.body, CaseMessage)
    principal = await acting_for(session, message.node, written.organisation)
    await overlaps.post_message(
        session,
        principal,
        written.case_id,
        overlap_schemas.MessageCreate(body=written.body),
        message_id=written.id,
    )


@inbox.handles(RESOLUTION)
async def take_resolution(session: AsyncSession, message: inbox.Message) -> None:
    """A proposal or an agreement a party made on its node, applied here as if made here."""
    made = _decode(message.body, CaseResolution)
    principal = await acting_for(session, message.node, made.organisation)
    data = made.resolution
    if data.agree is not None and data.agree != made.proposal_id:
        raise InvalidInput.field("proposal_id", "is not the proposal agreed to")
    await overlaps.resolve(
        session, principal, made.case_id, data, proposal_id=made.proposal_id if data.agree is None else None
    )
