"""The directory: offices and their capacities, searched with facets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import set_fields
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.directory import schemas
from msnet.directory.models import Capacity, Office, OfficeSearch
from msnet.errors import Conflict, Errors, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.preconditions import check_version
from msnet.sharing import (
    apply_changes,
    lock_owned,
    resolve_share_with,
    resolve_sharing,
    slugs_of,
    visible,
    visible_to_caller,
)
from msnet.taxonomy import service as taxonomy

FOREIGN_KEY_VIOLATION = "23503"

STALE_AFTER = timedelta(days=180)


@dataclass(frozen=True)
class DirectoryFilter:
    """Every search dimension; ``None`` or empty means no filter on it."""

    q: str | None = None
    organisation: str | None = None
    office_id: UUID | None = None
    service_type: str | None = None
    theme: str | None = None
    country: str | None = None
    region: str | None = None
    language: str | None = None
    include_stale: bool = True


async def _values(session: AsyncSession, filters: DirectoryFilter) -> dict[str, Any]:
    """The filters' values, checked and normalised (an unknown term is a 422 naming its filter), by
    the name of their bind parameter in :func:`_capacity_conditions` and the search builders; a 422
    names every filter with a mistake."""
    values: dict[str, Any] = {}
    with Errors() as errors:
        if filters.service_type and (
            service_type := errors.check(search.term, "service_type", "service_type", filters.service_type)
        ):
            values["service_types"] = [service_type, *taxonomy.children_of(service_type)]
        if filters.theme:
            values["theme"] = [errors.check(search.term, "theme", "theme", filters.theme)]
        if filters.country and (country := errors.check(search.term, "country", "country", filters.country)):
            values["country"] = [country]
            values["country_regions"] = list(taxonomy.regions_of(country))
        if filters.region:
            values["region"] = [errors.check(search.term, "region", "region", filters.region)]
        if filters.language:
            values["language"] = [errors.check(search.term, "language", "language", filters.language)]
        with errors.collect():
            if org_id := await search.organisation_id(session, filters.organisation):
                values["organisation_id"] = org_id
    if filters.office_id:
        values["office_id"] = filters.office_id
    if filters.q:
        values["q"] = filters.q
    return values


def _capacity_conditions(names: frozenset[str], include_stale: bool) -> list[ColumnElement[bool]]:
    """The capacity filters named (keys of :func:`_values`), with bind parameters."""

    conditions: list[ColumnElement[bool]] = []
    if "service_types" in names:
        conditions.append(Capacity.service_type == any_(search.terms_param("service_types")))
    if "theme" in names:
        conditions.append(Capacity.themes.contains(search.terms_param("theme")))
    if "country" in names:
        conditions.append(
            Capacity.countries.contains(search.terms_param("country"))
            | Capacity.regions.overlap(search.terms_param("country_regions"))
        )
    if "region" in names:
        conditions.append(
            Capacity.regions.contains(search.terms_param("region"))
            | Capacity.country_areas.contains(search.terms_param("region"))
        )
    if "language" in names:
        conditions.append(Capacity.languages.contains(search.terms_param("language")))
    if not include_stale:
        conditions.append(Capacity.last_confirmed_at >= func.now() - STALE_AFTER)
    return conditions


async def office_names(
    session: AsyncSession, principal: Principal | None, office_ids: set[UUID]
) -> dict[UUID, str]:
    """The names of the offices among ``office_ids`` that the caller may see (the others are left
    out: a record naming an office does not make the office visible), in one query."""
    if not office_ids:
        return {}
    found = await session.execute(
        select(Office.id, Office.name).where(Office.id.in_(office_ids), visible(Office, principal))
    )
    return dict(found.all())


async def _office_schemas(session: AsyncSession, offices: list[Office]) -> list[schemas.Office]:
    slugs = await slugs_of(
        session, list({o.organisation_id for o in offices} | {i for o in offices for i in o.share_with})
    )
    return [
        schemas.Office(
            id=o.id,
            organisation=slugs[o.organisation_id],
            name=o.name,
            mandate=o.mandate,
            parent_structure=o.parent_structure,
            staff_size=o.staff_size,
            role_mailbox=o.role_mailbox,
            sharing=o.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in o.share_with],
            origin=o.origin,
            version=o.version,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )
        for o in offices
    ]


async def _capacity_schemas(
    session: AsyncSession, principal: Principal | None, rows: list[Capacity]
) -> list[schemas.Capacity]:
    slugs = await slugs_of(
        session, list({c.organisation_id for c in rows} | {i for c in rows for i in c.share_with})
    )
    offices = await office_names(session, principal, {c.office_id for c in rows})
    stale_before = datetime.now(UTC) - STALE_AFTER
    return [
        schemas.Capacity(
            id=c.id,
            organisation=slugs[c.organisation_id],
            office_id=c.office_id,
            office=offices.get(c.office_id),
            service_type=c.service_type,
            themes=list(c.themes),
            countries=list(c.countries),
            regions=list(c.regions),
            languages=list(c.languages),
            lead_time_days=c.lead_time_days,
            concurrent_engagements=c.concurrent_engagements,
            notes=c.notes,
            last_confirmed_at=c.last_confirmed_at,
            stale=c.last_confirmed_at < stale_before,
            sharing=c.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in c.share_with],
            origin=c.origin,
            version=c.version,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in rows
    ]


def _capacity_facets() -> list[Any]:
    """The facet columns of a capacity's row (as :func:`msnet.search.find` reads them): themes, its
    service type, languages, and the M49 areas it covers, each once (those it names, and those of its
    countries it does not: ``country_areas``, migration 0014). Null for an office's row without one."""
    return [
        Capacity.themes,
        func.array_remove(postgresql.array([Capacity.service_type]), None).label("service_types"),
        Capacity.languages,
        func.array_cat(Capacity.regions, Capacity.country_areas, type_=postgresql.ARRAY(Text)).label(
            "regions"
        ),
    ]


def _common_conditions(names: frozenset[str], include_stale: bool) -> list[ColumnElement[bool]]:
    """That every capacity of an office meets the capacity filters named: each filter term is one its
    capacities all have (``office_search.common_*``), and none is stale when only fresh ones count.
    A capacity may meet a filter in a way this does not see (two service types the filter accepts,
    a country through one of its regions); its office is then searched through its capacities."""
    conditions: list[ColumnElement[bool]] = []
    if "service_types" in names:
        conditions.append(OfficeSearch.common_service_types.overlap(search.terms_param("service_types")))
    if "theme" in names:
        conditions.append(OfficeSearch.common_themes.contains(search.terms_param("theme")))
    if "country" in names:
        conditions.append(OfficeSearch.common_countries.contains(search.terms_param("country")))
    if "region" in names:
        conditions.append(OfficeSearch.common_regions.contains(search.terms_param("region")))
    if "language" in names:
        conditions.append(OfficeSearch.common_languages.contains(search.terms_param("language")))
    if not include_stale:
        conditions.append(OfficeSearch.oldest >= func.now() - STALE_AFTER)
    return conditions


def _union_conditions(names: frozenset[str]) -> list[ColumnElement[bool]]:
    """What an office needs for one of its capacities to meet the capacity filters named: each filter
    term among the terms of its capacities (``office_search``'s unions)."""
    conditions: list[ColumnElement[bool]] = []
    if "service_types" in names:
        conditions.append(OfficeSearch.service_types.overlap(search.terms_param("service_types")))
    if "theme" in names:
        conditions.append(OfficeSearch.themes.contains(search.terms_param("theme")))
    if "country" in names:
        conditions.append(
            OfficeSearch.countries.contains(search.terms_param("country"))
            | OfficeSearch.regions.overlap(search.terms_param("country_regions"))
        )
    if "region" in names:
        conditions.append(OfficeSearch.regions.contains(search.terms_param("region")))
    if "language" in names:
        conditions.append(OfficeSearch.languages.contains(search.terms_param("language")))
    return conditions


def _office_hits(
    names: frozenset[str], anonymous: bool, include_stale: bool
) -> tuple[Select[Any], ColumnElement[Any] | None]:
    """The office search with the filters ``names`` (of :func:`_values`), as a statement with bind
    parameters (``org``: the caller's organisation), and its rank: a row per office, with the terms
    of its visible capacities that meet the capacity filters (its facets); with a capacity filter an
    office needs such a capacity.

    It reads each office's search document (``office_search``, migration 0036). An office whose
    capacities every reader of it may read and all meet the filters answers from the document: its
    terms are the union kept there. Any other is searched through the capacities the caller may see,
    their terms united by ``msnet_union``; the document's union first leaves out an office none of
    whose capacities can meet the filters. An office's terms are those of its capacities searched
    when there are any (their columns are never null), else the document's, so the document's
    common terms are tested once a row, not again for each facet."""
    capacity_filters = _capacity_conditions(names, include_stale)
    whole = func.coalesce(
        and_(OfficeSearch.themes.is_not(None), *_common_conditions(names, include_stale)), False
    )
    facets = _capacity_facets()
    through = (
        select(
            *(func.msnet_union(f, type_=postgresql.ARRAY(Text)).label(f.name) for f in facets),
            func.count(Capacity.id).label("capacities"),
        )
        .where(
            Capacity.office_id == OfficeSearch.office_id,
            visible_to_caller(Capacity, anonymous),
            *capacity_filters,
            ~whole,
        )
        .lateral("through")
    )
    conditions = [visible_to_caller(OfficeSearch, anonymous)]
    if capacity_filters:
        conditions.append(or_(whole, through.c.capacities > 0))
    if union := _union_conditions(names):
        conditions.append(or_(OfficeSearch.themes.is_(None), and_(*union)))
    if "organisation_id" in names:
        conditions.append(OfficeSearch.organisation_id == bindparam("organisation_id", type_=Uuid))
    rank: ColumnElement[Any] | None = None
    if "q" in names:
        query_text = search.text_query(search.query_param())
        conditions.append(OfficeSearch.search.bool_op("@@")(query_text))
        rank = func.ts_rank(OfficeSearch.search, query_text)
    hits = (
        select(
            OfficeSearch.office_id.label("key"),
            *(func.coalesce(through.c[f.name], getattr(OfficeSearch, f.name)).label(f.name) for f in facets),
            OfficeSearch.organisation_id,
        )
        .select_from(OfficeSearch)
        .join(through, true())
        .where(*conditions)
    )
    return hits, rank


async def search_offices(
    session: AsyncSession,
    principal: Principal | None,
    filters: DirectoryFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.OfficePage:
    found = await search.find(
        session,
        principal,
        lambda names, anonymous: _office_hits(names, anonymous, filters.include_stale),
        shape=("offices", filters.include_stale),
        values=await _values(session, filters),
        cursor=cursor,
        limit=limit,
        arrays_repeat=True,
    )
    offices = await search.records(session, Office, found, principal)
    return schemas.OfficePage(
        items=await _office_schemas(session, offices),
        next_cursor=found.next_cursor,
        total=found.total,
        facets=found.facets,
    )


async def get_office(session: AsyncSession, principal: Principal | None, office_id: UUID) -> Office:
    office = await session.scalar(select(Office).where(Office.id == office_id, visible(Office, principal)))
    if office is None:
        raise NotFound(f"no office {office_id}")
    return office


async def _owned_office(session: AsyncSession, principal: Principal, office_id: UUID) -> Office:
    return await lock_owned(session, principal, Office, office_id, "office")


async def office_schema(session: AsyncSession, office: Office) -> schemas.Office:
    return (await _office_schemas(session, [office]))[0]


async def create_office(
    session: AsyncSession,
    principal: Principal,
    data: schemas.OfficeCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Office | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "office.create",
        data,
        lambda: _create_office(session, principal, data, origin),
    )


async def _create_office(
    session: AsyncSession, principal: Principal, data: schemas.OfficeCreate, origin: str
) -> schemas.Office:
    office = Office(
        organisation_id=principal.org_id,
        name=data.name,
        mandate=data.mandate,
        parent_structure=data.parent_structure,
        staff_size=data.staff_size,
        role_mailbox=data.role_mailbox,
        sharing=data.sharing,
        share_with=await resolve_share_with(session, data.sharing, data.share_with),
        origin=origin,
    )
    session.add(office)
    await session.flush()
    await session.refresh(office)
    await record_action(session, principal, "office.create", "office", office.id, data)
    return await office_schema(session, office)


async def update_office(
    session: AsyncSession,
    principal: Principal,
    office_id: UUID,
    data: schemas.OfficeUpdate,
    if_match: str | None,
) -> schemas.Office:
    office = await _owned_office(session, principal, office_id)
    await apply_changes(session, office, set_fields(data), if_match)
    await record_action(session, principal, "office.update", "office", office_id, data)
    return await office_schema(session, office)


async def delete_office(
    session: AsyncSession, principal: Principal, office_id: UUID, if_match: str | None
) -> None:
    office = await _owned_office(session, principal, office_id)
    check_version(if_match, office.version)
    await session.delete(office)
    try:
        await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != FOREIGN_KEY_VIOLATION:
            raise
        # The rows naming it may be other organisations' (a response, an overlap case's lead office):
        # row-level security hides them from a look beforehand, not from the constraint.
        raise Conflict(
            "the office is named by support requests, responses or overlap cases and stays their record; "
            "change its name or description instead"
        ) from None
    await record_action(session, principal, "office.delete", "office", office_id)


async def _validated_capacity(
    session: AsyncSession, data: schemas.CapacityCreate | schemas.CapacityUpdate, capacity: Capacity | None
) -> dict[str, Any]:
    """The columns a create (``capacity`` None) or an update of ``capacity`` writes, with its sharing
    resolved; a 422 names every mistake."""
    changes = set_fields(data)
    with Errors() as errors:
        for field, kind in (
            ("themes", "theme"),
            ("countries", "country"),
            ("regions", "region"),
            ("languages", "language"),
        ):
            if field in changes:
                changes[field] = sorted(errors.check(taxonomy.check, field, kind, changes[field]) or [])  # type: ignore[arg-type]
        if "service_type" in changes:
            changes["service_type"] = errors.check(
                search.term, "service_type", "service_type", changes["service_type"]
            )
        with errors.collect():
            if capacity is None:
                changes["share_with"] = await resolve_share_with(
                    session, changes["sharing"], changes["share_with"]
                )
            else:
                await resolve_sharing(session, capacity, changes)
    return changes


def _capacity_hits(
    names: frozenset[str], anonymous: bool, include_stale: bool
) -> tuple[Select[Any], ColumnElement[Any] | None]:
    """The capacity search with the filters ``names`` (of :func:`_values`), as a statement with bind
    parameters (``org``: the caller's organisation), and its rank: relevance, a stale capacity's
    halved (it is shown, but ranked lower)."""
    conditions = [
        visible_to_caller(Capacity, anonymous),
        *_capacity_conditions(names, include_stale),
    ]
    if "organisation_id" in names:
        conditions.append(Capacity.organisation_id == bindparam("organisation_id", type_=Uuid))
    if "office_id" in names:
        conditions.append(Capacity.office_id == bindparam("office_id", type_=Uuid))
    rank: ColumnElement[Any] | None = None
    if "q" in names:
        query_text = search.text_query(search.query_param())
        conditions.append(Capacity.search.bool_op("@@")(query_text))
        fresh = case((Capacity.last_confirmed_at >= func.now() - STALE_AFTER, 1.0), else_=0.5)
        rank = func.ts_rank(Capacity.search, query_text) * fresh
    hits = select(
        Capacity.id.label("key"),
        *_capacity_facets(),
        Capacity.organisation_id,
    ).where(*conditions)
    return hits, rank


async def search_capacities(
    session: AsyncSession,
    principal: Principal | None,
    filters: DirectoryFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.CapacityPage:
    found = await search.find(
        session,
        principal,
        lambda names, anonymous: _capacity_hits(names, anonymous, filters.include_stale),
        shape=("capacities", filters.include_stale),
        values=await _values(session, filters),
        cursor=cursor,
        limit=limit,
    )
    capacities = await search.records(session, Capacity, found, principal)
    return schemas.CapacityPage(
        items=await _capacity_schemas(session, principal, capacities),
        next_cursor=found.next_cursor,
        total=found.total,
        facets=found.facets,
    )


async def _owned_capacity(session: AsyncSession, principal: Principal, capacity_id: UUID) -> Capacity:
    return await lock_owned(session, principal, Capacity, capacity_id, "capacity")


async def create_capacity(
    session: AsyncSession,
    principal: Principal,
    office_id: UUID,
    data: schemas.CapacityCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Capacity | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        f"capacity.create {office_id}",
        data,
        lambda: _create_capacity(session, principal, office_id, data, origin),
    )


async def _create_capacity(
    session: AsyncSession, principal: Principal, office_id: UUID, data: schemas.CapacityCreate, origin: str
) -> schemas.Capacity:
    office = await _owned_office(session, principal, office_id)
    changes = await _validated_capacity(session, data, None)
    capacity = Capacity(organisation_id=principal.org_id, office_id=office.id, origin=origin, **changes)
    session.add(capacity)
    await session.flush()
    await session.refresh(capacity)
    await record_action(session, principal, "capacity.create", "capacity", capacity.id, data)
    return (await _capacity_schemas(session, principal, [capacity]))[0]


async def update_capacity(
    session: AsyncSession,
    principal: Principal,
    capacity_id: UUID,
    data: schemas.CapacityUpdate,
    if_match: str | None,
) -> schemas.Capacity:
    capacity = await _owned_capacity(session, principal, capacity_id)
    await apply_changes(session, capacity, await _validated_capacity(session, data, capacity), if_match)
    await record_action(session, principal, "capacity.update", "capacity", capacity_id, data)
    return (await _capacity_schemas(session, principal, [capacity]))[0]


async def confirm_capacity(
    session: AsyncSession, principal: Principal, capacity_id: UUID
) -> schemas.Capacity:
    """Still true: the capacity is fresh again for 180 days."""
    capacity = await _owned_capacity(session, principal, capacity_id)
    await apply_changes(session, capacity, {"last_confirmed_at": datetime.now(UTC)}, None)
    await record_action(session, principal, "capacity.confirm", "capacity", capacity_id)
    return (await _capacity_schemas(session, principal, [capacity]))[0]


async def delete_capacity(
    session: AsyncSession, principal: Principal, capacity_id: UUID, if_match: str | None
) -> None:
    capacity = await _owned_capacity(session, principal, capacity_id)
    check_version(if_match, capacity.version)
    await session.delete(capacity)
    await session.flush()
    await record_action(session, principal, "capacity.delete", "capacity", capacity_id)
