"""The demo's peace processes (``processes.json``, created once, by name) and support requests
(``requests.json``, created once, by title), each taken through its lifecycle to the state it shows."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.demo import base, specs
from msnet.directory.models import Office
from msnet.organisations import service as organisations
from msnet.processes import schemas as process_schemas
from msnet.processes import service as processes
from msnet.processes.models import Process
from msnet.requests import responses, schemas
from msnet.requests import service as requests
from msnet.requests.models import SupportRequest
from msnet.settings import Settings


async def _office_id(session: AsyncSession, slug: str, name: str) -> Any:
    org = await organisations.get_by_slug(session, slug)
    return await session.scalar(
        select(Office.id).where(Office.organisation_id == org.id, Office.name == name)
    )


def homed(homes: Collection[str] | None) -> tuple[specs.RequestSpec, ...]:
    """The demo requests whose parties (the requester, the offices asked, or every organisation
    for one sent to the best matches; those who answer) and process are all homed on this node
    (``homes``; None: every organisation): requests between nodes are not exchanged yet."""
    if homes is None:
        return specs.requests()
    proposers = {p.name: p.proposer for p in specs.processes()}
    everyone = {o.slug for o in specs.organisations()}
    return tuple(
        spec
        for spec in specs.requests()
        if {
            spec.organisation,
            proposers[spec.process],
            *((slug for slug, _ in spec.addressees) if spec.addressees else everyone),
            *(r.organisation for r in spec.responses),
        }
        <= set(homes)
    )


async def _ensure_processes(
    session: AsyncSession, settings: Settings, homes: Collection[str] | None
) -> tuple[dict[str, Any], int]:
    ids, new = {}, 0
    for spec in specs.processes():
        if homes is not None and spec.proposer not in homes:
            continue
        principal = await base.act_as(session, spec.proposer)
        found = await session.scalar(
            select(Process.id).where(Process.organisation_id == principal.org_id, Process.name == spec.name)
        )
        if found is None:
            create = process_schemas.ProcessCreate(
                name=spec.name,
                description=spec.description,
                countries=list(spec.countries),
                region=spec.region,
                level=spec.level,
                track=spec.track,
                lead_mediators=[m for m in spec.lead_mediators if homes is None or m in homes],
                conflict_parties=list(spec.conflict_parties),
                phase=spec.phase,
                sharing=spec.sharing,
            )
            found = (await processes.create_process(session, principal, create, origin=settings.issuer)).id
            new += 1
        ids[spec.name] = found
    return ids, new


async def _play(session: AsyncSession, settings: Settings, spec: specs.RequestSpec, process_id: Any) -> None:
    """Create a request and take it through the lifecycle to the state the demo shows."""
    principal = await base.act_as(session, spec.organisation)
    addressees = [await _office_id(session, slug, name) for slug, name in spec.addressees]
    create = schemas.RequestCreate(
        process_id=process_id,
        office_id=await _office_id(session, spec.organisation, spec.office),
        title=spec.title,
        description=spec.description,
        service_types=list(spec.service_types),
        themes=list(spec.themes),
        languages=list(spec.languages),
        period=schemas.Period(start=spec.start, end=spec.end),
        urgency=spec.urgency,
        mandate=schemas.Mandate(type=spec.mandate_type, reference=spec.mandate_reference),
        route=spec.route,
        addressees=addressees,
    )
    made = await requests.create_request(session, principal, create, origin=settings.issuer)
    if spec.state == "draft":
        return
    await requests.submit_request(session, principal, made.id)
    offers = []
    for response in spec.responses:
        responder = await base.act_as(session, response.organisation)
        answer = schemas.ResponseCreate(
            office_id=await _office_id(session, response.organisation, response.office),
            kind=response.kind,
            note=response.text if response.kind == "offer" else "",
            reason=response.text if response.kind == "decline" else "",
        )
        offers.append(await responses.respond(session, responder, made.id, answer, origin=settings.issuer))
    principal = await base.act_as(session, spec.organisation)
    if spec.state in ("accepted", "in-progress", "completed") and offers:
        await responses.accept_response(session, principal, made.id, offers[0].id)
    if spec.state in ("in-progress", "on-hold"):
        await requests.update_request(
            session,
            principal,
            made.id,
            schemas.RequestUpdate(state=spec.state),
            None,  # type: ignore[arg-type]
        )
    if spec.state == "completed":
        assert spec.outcome is not None
        await requests.close_request(session, principal, made.id, spec.outcome)
    if spec.state == "cancelled":
        await requests.withdraw_request(session, principal, made.id)


async def ensure(
    session: AsyncSession, settings: Settings, homes: Collection[str] | None = None
) -> tuple[int, int, int]:
    """(processes, new processes, new requests) of the organisations homed here (``homes``; None:
    every one)."""
    process_ids, new_processes = await _ensure_processes(session, settings, homes)
    new_requests = 0
    for spec in homed(homes):
        principal = await base.act_as(session, spec.organisation)
        exists = await session.scalar(
            select(SupportRequest.id).where(
                SupportRequest.organisation_id == principal.org_id, SupportRequest.title == spec.title
            )
        )
        if exists is None:
            await _play(session, settings, spec, process_ids[spec.process])
            new_requests += 1
    return len(process_ids), new_processes, new_requests
