"""The process registry: proposing, finding and merging peace processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import set_fields
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.errors import Conflict, Errors, InvalidInput, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.organisations.models import Organisation
from msnet.preconditions import check_version
from msnet.processes import schemas
from msnet.processes.models import Process
from msnet.sharing import (
    apply_changes,
    lock_for_owner,
    resolve_share_with,
    resolve_sharing,
    slugs_of,
    visible,
)
from msnet.taxonomy import service as taxonomy

MAX_ALIAS_HOPS = 20


@dataclass(frozen=True)
class ProcessFilter:
    q: str | None = None
    organisation: str | None = None
    country: str | None = None
    region: str | None = None
    level: str | None = None
    track: str | None = None
    phase: str | None = None


async def _mediator_ids(session: AsyncSession, slugs: list[str]) -> list[UUID]:
    found = dict(
        (
            await session.execute(
                select(Organisation.slug, Organisation.id).where(Organisation.slug.in_(slugs))
            )
        ).all()
    )
    with Errors() as errors:
        for i, slug in enumerate(slugs):
            if slug not in found:
                errors.add(f"lead_mediators.{i}", f"no organisation '{slug}'")
    return [found[s] for s in dict.fromkeys(slugs)]


async def _validated(
    session: AsyncSession, changes: dict[str, Any], record: Process | None
) -> dict[str, Any]:
    """Check countries, region, mediators and sharing (a 422 names every mistake); derive the
    regions a process covers, and resolve the sharing (of a new process, ``record`` None)."""
    with Errors() as errors:
        if "countries" in changes:
            changes["countries"] = sorted(
                errors.check(taxonomy.check, "countries", "country", changes["countries"]) or []
            )
        if changes.get("region"):
            changes["region"] = errors.check(search.term, "region", "region", changes["region"])
        countries = changes.get("countries", record.countries if record else [])
        region = changes.get("region", record.region if record else None)
        if not errors.about("countries", "region") and not countries and not region:
            errors.add("countries", "name at least one country, or a region")
        if "countries" in changes or "region" in changes:
            changes["regions"] = sorted(
                {r for c in countries for r in taxonomy.regions_of(c)} | ({region} if region else set())
            )
        if "lead_mediators" in changes:
            with errors.collect():
                changes["lead_mediators"] = await _mediator_ids(session, changes["lead_mediators"])
        with errors.collect():
            if record is None:
                changes["share_with"] = await resolve_share_with(
                    session, changes["sharing"], changes["share_with"]
                )
            else:
                await resolve_sharing(session, record, changes)
    if "references" in changes:
        references = changes.pop("references")
        changes["ucdp_conflict_id"] = references.ucdp_conflict_id
        changes["peace_agreement_ids"] = list(dict.fromkeys(references.peace_agreement_ids))
    return changes


async def aliases(session: AsyncSession, process_ids: list[UUID]) -> dict[UUID, list[UUID]]:
    """The ids merged (directly or through other merges) into each of ``process_ids``."""
    if not process_ids:
        return {}
    tree = (
        select(Process.id, Process.merged_into.label("root"))
        .where(Process.merged_into.in_(process_ids))
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(select(Process.id, tree.c.root).join(tree, Process.merged_into == tree.c.id))
    found: dict[UUID, list[UUID]] = {i: [] for i in process_ids}
    for alias, root in await session.execute(select(tree.c.id, tree.c.root).order_by(tree.c.id)):
        found[root].append(alias)
    return found


async def schemas_of(session: AsyncSession, rows: list[Process]) -> list[schemas.Process]:
    ids = {p.organisation_id for p in rows} | {i for p in rows for i in (*p.share_with, *p.lead_mediators)}
    slugs = await slugs_of(session, list(ids))
    merged = await aliases(session, [p.id for p in rows])
    return [
        schemas.Process(
            id=p.id,
            organisation=slugs[p.organisation_id],
            name=p.name,
            description=p.description,
            countries=list(p.countries),
            region=p.region,
            regions=list(p.regions),
            level=p.level,  # type: ignore[arg-type]
            track=p.track,  # type: ignore[arg-type]
            lead_mediators=[slugs[i] for i in p.lead_mediators],
            conflict_parties=list(p.conflict_parties),
            phase=p.phase,  # type: ignore[arg-type]
            references=schemas.References(
                ucdp_conflict_id=p.ucdp_conflict_id, peace_agreement_ids=list(p.peace_agreement_ids)
            ),
            aliases=merged[p.id],
            sharing=p.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in p.share_with],
            origin=p.origin,
            version=p.version,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in rows
    ]


async def process_schema(session: AsyncSession, process: Process) -> schemas.Process:
    return (await schemas_of(session, [process]))[0]


async def resolve(session: AsyncSession, principal: Principal | None, process_id: UUID) -> Process:
    """The process ``process_id`` names, following merges: an alias resolves to what it was merged
    into. Only what ``principal`` may see; anything else is a 404."""
    for _ in range(MAX_ALIAS_HOPS):
        process = await session.scalar(
            select(Process).where(Process.id == process_id, visible(Process, principal))
        )
        if process is None:
            raise NotFound(f"no process {process_id}")
        if process.merged_into is None:
            return process
        process_id = process.merged_into
    raise Conflict(f"process {process_id} is merged too many times over")


async def _conditions(session: AsyncSession, filters: ProcessFilter) -> list[ColumnElement[bool]]:
    """What a search keeps; a 422 names every filter with a mistake."""
    conditions: list[ColumnElement[bool]] = [Process.merged_into.is_(None)]
    with Errors() as errors:
        if filters.country:
            country = errors.check(search.term, "country", "country", filters.country)
            conditions.append(Process.countries.contains([country]))
        if filters.region:
            region = errors.check(search.term, "region", "region", filters.region)
            conditions.append(Process.regions.contains([region]))
        with errors.collect():
            if org_id := await search.organisation_id(session, filters.organisation):
                conditions.append(Process.organisation_id == org_id)
    for column, value in (
        (Process.level, filters.level),
        (Process.track, filters.track),
        (Process.phase, filters.phase),
    ):
        if value:
            conditions.append(column == value)
    return conditions


async def search_processes(
    session: AsyncSession,
    principal: Principal | None,
    filters: ProcessFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.ProcessPage:
    conditions = [visible(Process, principal), *await _conditions(session, filters)]
    rank = None
    if filters.q:
        query_text = search.text_query(filters.q)
        conditions.append(Process.search.bool_op("@@")(query_text))
        rank = func.ts_rank(Process.search, query_text)
    total = await session.scalar(select(func.count()).select_from(Process).where(*conditions))
    query = select(Process, rank if rank is not None else literal(None))
    rows = (
        await session.execute(
            search.page_after(query.where(*conditions), cursor, rank, Process.id).limit(limit + 1)
        )
    ).all()
    return schemas.ProcessPage(
        items=await schemas_of(session, [r[0] for r in rows[:limit]]),
        next_cursor=search.next_cursor([(r[0].id, r[1]) for r in rows], limit, rank is not None),
        total=total or 0,
    )


async def create_process(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ProcessCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Process | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "process.create",
        data,
        lambda: _create_process(session, principal, data, origin),
    )


async def _create_process(
    session: AsyncSession, principal: Principal, data: schemas.ProcessCreate, origin: str
) -> schemas.Process:
    changes = await _validated(session, set_fields(data), None)
    process = Process(organisation_id=principal.org_id, origin=origin, **changes)
    session.add(process)
    await session.flush()
    await session.refresh(process)
    await record_action(session, principal, "process.create", "process", process.id, data)
    return await process_schema(session, process)


async def _owned(session: AsyncSession, principal: Principal, process_id: UUID) -> Process:
    process = await session.scalar(
        select(Process).where(Process.id == process_id, visible(Process, principal))
    )
    if process is None:
        raise NotFound(f"no process {process_id}")
    await lock_for_owner(session, principal, process, "process")
    if process.merged_into is not None:
        raise Conflict(f"process {process_id} was merged into {process.merged_into}: change that one")
    return process


async def update_process(
    session: AsyncSession,
    principal: Principal,
    process_id: UUID,
    data: schemas.ProcessUpdate,
    if_match: str | None,
) -> schemas.Process:
    process = await _owned(session, principal, process_id)
    check_version(if_match, process.version)
    await apply_changes(session, process, await _validated(session, set_fields(data), process), None)
    await record_action(session, principal, "process.update", "process", process_id, data)
    return await process_schema(session, process)


async def merge_process(
    session: AsyncSession,
    principal: Principal,
    process_id: UUID,
    data: schemas.ProcessMerge,
    if_match: str | None,
) -> schemas.Process:
    """Merge the duplicate ``process_id`` (the caller's own) into ``data.into``: the duplicate's id
    stays as an alias of the other, and requests on it follow."""
    duplicate = await _owned(session, principal, process_id)
    check_version(if_match, duplicate.version)
    try:
        target = await resolve(session, principal, data.into)
    except NotFound:
        raise InvalidInput.field("into", f"no process {data.into}") from None
    if target.id == duplicate.id:
        raise InvalidInput.field("into", "a process cannot be merged into itself")
    duplicate.merged_into, duplicate.merged_at = target.id, datetime.now(UTC)
    duplicate.version += 1
    await session.flush()
    await record_action(session, principal, "process.merge", "process", process_id, data)
    return await process_schema(session, target)
