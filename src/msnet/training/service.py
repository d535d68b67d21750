"""Trainings and publications: shared records, searched with facets, validated against the taxonomy."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Float,
    Select,
    String,
    Uuid,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import instant, set_fields
from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.errors import Errors, InvalidInput, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.preconditions import check_version
from msnet.sharing import (
    apply_changes,
    lock_for_owner,
    resolve_share_with,
    resolve_sharing,
    slugs_of,
    visible,
    visible_to_caller,
)
from msnet.taxonomy import service as taxonomy
from msnet.training import schemas
from msnet.training.models import Publication, Training

#: The API's names of the columns whose names differ.
_COLUMNS = {"start": "starts_at", "end": "ends_at"}
TRAINING_FACETS = {
    "theme": "themes",
    "kind": "kinds",
    "format": "formats",
    "language": "languages",
    "country": "countries",
    "region": "regions",
    "audience": "audience",
}
PUBLICATION_FACETS = {"theme": "themes", "language": "languages"}


@dataclass(frozen=True)
class TrainingFilter:
    """Every search dimension of trainings; ``None`` means no filter on it."""

    q: str | None = None
    organisation: str | None = None
    theme: str | None = None
    kind: str | None = None
    format: str | None = None
    country: str | None = None
    region: str | None = None
    language: str | None = None
    audience: str | None = None
    start_from: date | None = None
    start_to: date | None = None
    open: bool = False
    created_from: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class PublicationFilter:
    q: str | None = None
    organisation: str | None = None
    theme: str | None = None
    language: str | None = None
    published_from: date | None = None
    published_to: date | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


# --- validation ----------------------------------------------------------------------------


def time_zone(value: str) -> str:
    """An IANA time zone name, as the tz database spells it; anything else is a 422."""
    if value not in _zones():
        raise InvalidInput.field(
            "time_zone", f"'{value[:64]}' is not an IANA time zone, e.g. Europe/Brussels"
        )
    return value


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _training_changes(
    data: schemas.TrainingCreate | schemas.TrainingUpdate, errors: Errors
) -> dict[str, Any]:
    """The columns a create or update writes, after every check that needs neither the database nor
    the record's other fields (each mistake noted in ``errors``)."""
    changes = {_COLUMNS.get(k, k): v for k, v in set_fields(data).items()}
    for field, kind in (("themes", "theme"), ("languages", "language")):
        if field in changes:
            changes[field] = errors.check(taxonomy.check, field, kind, changes[field])  # type: ignore[arg-type]
    if changes.get("country"):
        changes["country"] = errors.check(search.term, "country", "country", changes["country"])
    if "country" in changes:
        changes["regions"] = list(taxonomy.regions_of(changes["country"])) if changes["country"] else []
    if "time_zone" in changes:
        changes["time_zone"] = errors.check(time_zone, changes["time_zone"])
    for api, column in (("start", "starts_at"), ("end", "ends_at"), ("application_deadline",) * 2):
        if changes.get(column) is not None:
            changes[column] = errors.check(instant, api, changes[column])
    if "audience" in changes:
        changes["audience"] = sorted(set(changes["audience"]))
    return changes


def _check_training(record: dict[str, Any], errors: Errors) -> None:
    """The rules between fields, on the record as it will be (a rule on a field already found wrong
    is not checked)."""
    if not errors.about("start", "end") and record["ends_at"] < record["starts_at"]:
        errors.add("end", "is before the start")
    deadline = record.get("application_deadline")
    if (
        not errors.about("start", "application_deadline")
        and deadline is not None
        and deadline > record["starts_at"]
    ):
        errors.add("application_deadline", "is after the start")
    if (
        not errors.about("country")
        and record["format"] in ("in_person", "hybrid")
        and not record.get("country")
    ):
        errors.add("country", "is needed for an in-person or hybrid training")
    if not (record.get("apply_url") or record.get("apply_email")):
        errors.add("apply_url", "say how to apply: apply_url, apply_email or both")


def _publication_changes(
    data: schemas.PublicationCreate | schemas.PublicationUpdate, errors: Errors
) -> dict[str, Any]:
    changes = set_fields(data)
    for field, kind in (("themes", "theme"), ("languages", "language")):
        if field in changes:
            changes[field] = errors.check(taxonomy.check, field, kind, changes[field])  # type: ignore[arg-type]
    return changes


# --- reading -------------------------------------------------------------------------------


async def training_schemas(session: AsyncSession, rows: list[Training]) -> list[schemas.Training]:
    slugs = await slugs_of(
        session, list({t.organisation_id for t in rows} | {i for t in rows for i in t.share_with})
    )
    return [
        schemas.Training(
            id=t.id,
            organisation=slugs[t.organisation_id],
            title=t.title,
            description=t.description,
            kind=t.kind,  # type: ignore[arg-type]
            themes=list(t.themes),
            format=t.format,  # type: ignore[arg-type]
            city=t.city,
            country=t.country,
            start=t.starts_at,
            end=t.ends_at,
            time_zone=t.time_zone,
            application_deadline=t.application_deadline,
            seats=t.seats,
            languages=list(t.languages),
            audience=list(t.audience),  # type: ignore[arg-type]
            cost=t.cost,
            apply_url=t.apply_url,
            apply_email=t.apply_email,
            sharing=t.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in t.share_with],
            origin=t.origin,
            version=t.version,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t in rows
    ]


async def publication_schemas(session: AsyncSession, rows: list[Publication]) -> list[schemas.Publication]:
    slugs = await slugs_of(
        session, list({p.organisation_id for p in rows} | {i for p in rows for i in p.share_with})
    )
    return [
        schemas.Publication(
            id=p.id,
            organisation=slugs[p.organisation_id],
            title=p.title,
            summary=p.summary,
            themes=list(p.themes),
            languages=list(p.languages),
            url=p.url,
            published_on=p.published_on,
            sharing=p.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in p.share_with],
            origin=p.origin,
            version=p.version,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in rows
    ]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _created(model: Any, names: frozenset[str]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if "created_from" in names:
        conditions.append(model.created_at >= bindparam("created_from", type_=DateTime(timezone=True)))
    if "created_before" in names:
        conditions.append(model.created_at < bindparam("created_before", type_=DateTime(timezone=True)))
    return conditions


async def _common_values(
    session: AsyncSession, filters: TrainingFilter | PublicationFilter, errors: Errors
) -> dict[str, Any]:
    """The values of the filters trainings and publications share (each mistake noted in ``errors``)."""
    values: dict[str, Any] = {}
    with errors.collect():
        if org_id := await search.organisation_id(session, filters.organisation):
            values["organisation_id"] = org_id
    if filters.theme:
        values["theme"] = [errors.check(search.term, "theme", "theme", filters.theme)]
    if filters.language:
        values["language"] = [errors.check(search.term, "language", "language", filters.language)]
    if filters.created_from is not None:
        values["created_from"] = filters.created_from
    if filters.created_before is not None:
        values["created_before"] = filters.created_before
    if filters.q:
        values["q"] = filters.q
    return values


async def training_values(session: AsyncSession, filters: TrainingFilter) -> dict[str, Any]:
    """The training filters' values, checked and normalised, by the name of their bind parameter in
    :func:`training_conditions` (a 422 naming every filter with an unknown term)."""
    with Errors() as errors:
        values = await _common_values(session, filters, errors)
        if filters.kind:
            values["kind"] = filters.kind
        if filters.format:
            values["format"] = filters.format
        if filters.country:
            values["country"] = errors.check(search.term, "country", "country", filters.country)
        if filters.region:
            values["region"] = [errors.check(search.term, "region", "region", filters.region)]
        if filters.audience:
            values["audience"] = [filters.audience]
        if filters.start_from and filters.start_to and filters.start_to < filters.start_from:
            errors.add("start_to", "is before start_from")
    if filters.start_from:
        values["start_from"] = _day_start(filters.start_from)
    if filters.start_to:
        values["start_before"] = _day_start(filters.start_to) + timedelta(days=1)
    if filters.open:
        values["open"] = True
    return values


def training_conditions(names: frozenset[str], anonymous: bool) -> list[ColumnElement[bool]]:
    """What a training search (or a feed, or a digest) keeps: visible to the caller (``org``, or
    public ones for ``anonymous``) and matching the filters ``names`` (of :func:`training_values`),
    with bind parameters."""
    conditions: list[ColumnElement[bool]] = [visible_to_caller(Training, anonymous)]
    if "theme" in names:
        conditions.append(Training.themes.contains(search.terms_param("theme")))
    if "kind" in names:
        conditions.append(Training.kind == bindparam("kind", type_=String))
    if "format" in names:
        conditions.append(Training.format == bindparam("format", type_=String))
    if "country" in names:
        conditions.append(Training.country == bindparam("country", type_=String))
    if "region" in names:
        conditions.append(Training.regions.contains(search.terms_param("region")))
    if "language" in names:
        conditions.append(Training.languages.contains(search.terms_param("language")))
    if "audience" in names:
        conditions.append(Training.audience.contains(search.terms_param("audience")))
    if "start_from" in names:
        conditions.append(Training.starts_at >= bindparam("start_from", type_=DateTime(timezone=True)))
    if "start_before" in names:
        conditions.append(Training.starts_at < bindparam("start_before", type_=DateTime(timezone=True)))
    if "open" in names:
        now = func.now()
        conditions.append(
            (Training.application_deadline >= now)
            | (Training.application_deadline.is_(None) & (Training.starts_at > now))
        )
    conditions.extend(_created(Training, names))
    if "organisation_id" in names:
        conditions.append(Training.organisation_id == bindparam("organisation_id", type_=Uuid))
    if "q" in names:
        conditions.append(Training.search.bool_op("@@")(search.text_query(search.query_param())))
    return conditions


def _epoch(column: Any) -> ColumnElement[Any]:
    return cast(func.extract("epoch", column), Float)


def _rank(model: Any, names: frozenset[str], otherwise: ColumnElement[Any]) -> ColumnElement[Any]:
    """Relevance to the text ``q`` when the search has one, else ``otherwise``."""
    return func.ts_rank(model.search, search.text_query(search.query_param())) if "q" in names else otherwise


def _training_hits(names: frozenset[str], anonymous: bool) -> tuple[Select[Any], ColumnElement[Any]]:
    rank = _rank(Training, names, -_epoch(Training.starts_at))
    return select(
        Training.id.label("key"),
        Training.organisation_id,
        Training.themes,
        postgresql.array([Training.kind]).label("kinds"),
        postgresql.array([Training.format]).label("formats"),
        Training.languages,
        func.array_remove(postgresql.array([Training.country]), None).label("countries"),
        Training.regions,
        Training.audience,
    ).where(*training_conditions(names, anonymous)), rank


async def search_trainings(
    session: AsyncSession,
    principal: Principal | None,
    filters: TrainingFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.TrainingPage:
    """Ranked by relevance with ``q``; otherwise soonest first (the rank is minus the start)."""
    found = await search.find(
        session,
        principal,
        _training_hits,
        shape="trainings",
        values=await training_values(session, filters),
        cursor=cursor,
        limit=limit,
        arrays=TRAINING_FACETS,
    )
    trainings = await search.records(session, Training, found, principal)
    return schemas.TrainingPage(
        items=await training_schemas(session, trainings),
        next_cursor=found.next_cursor,
        total=found.total,
        facets=found.facets,
    )


async def get_training(session: AsyncSession, principal: Principal | None, training_id: UUID) -> Training:
    training = await session.scalar(
        select(Training).where(Training.id == training_id, visible(Training, principal))
    )
    if training is None:
        raise NotFound(f"no training {training_id}")
    return training


async def training_schema(session: AsyncSession, training: Training) -> schemas.Training:
    return (await training_schemas(session, [training]))[0]


async def publication_values(session: AsyncSession, filters: PublicationFilter) -> dict[str, Any]:
    """The publication filters' values by the name of their bind parameter in
    :func:`publication_conditions` (a 422 naming every filter with a mistake)."""
    with Errors() as errors:
        values = await _common_values(session, filters, errors)
        if filters.published_from and filters.published_to and filters.published_to < filters.published_from:
            errors.add("published_to", "is before published_from")
    if filters.published_from:
        values["published_from"] = filters.published_from
    if filters.published_to:
        values["published_to"] = filters.published_to
    return values


def publication_conditions(names: frozenset[str], anonymous: bool) -> list[ColumnElement[bool]]:
    """What a publication search (or a digest) keeps, with bind parameters (as :func:`training_conditions`)."""
    conditions: list[ColumnElement[bool]] = [visible_to_caller(Publication, anonymous)]
    if "theme" in names:
        conditions.append(Publication.themes.contains(search.terms_param("theme")))
    if "language" in names:
        conditions.append(Publication.languages.contains(search.terms_param("language")))
    if "published_from" in names:
        conditions.append(Publication.published_on >= bindparam("published_from", type_=Date))
    if "published_to" in names:
        conditions.append(Publication.published_on <= bindparam("published_to", type_=Date))
    conditions.extend(_created(Publication, names))
    if "organisation_id" in names:
        conditions.append(Publication.organisation_id == bindparam("organisation_id", type_=Uuid))
    if "q" in names:
        conditions.append(Publication.search.bool_op("@@")(search.text_query(search.query_param())))
    return conditions


def _publication_hits(names: frozenset[str], anonymous: bool) -> tuple[Select[Any], ColumnElement[Any]]:
    rank = _rank(Publication, names, _epoch(Publication.published_on))
    return select(
        Publication.id.label("key"),
        Publication.organisation_id,
        Publication.themes,
        Publication.languages,
    ).where(*publication_conditions(names, anonymous)), rank


async def search_publications(
    session: AsyncSession,
    principal: Principal | None,
    filters: PublicationFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.PublicationPage:
    """Ranked by relevance with ``q``; otherwise newest first."""
    found = await search.find(
        session,
        principal,
        _publication_hits,
        shape="publications",
        values=await publication_values(session, filters),
        cursor=cursor,
        limit=limit,
        arrays=PUBLICATION_FACETS,
    )
    publications = await search.records(session, Publication, found, principal)
    return schemas.PublicationPage(
        items=await publication_schemas(session, publications),
        next_cursor=found.next_cursor,
        total=found.total,
        facets=found.facets,
    )


async def get_publication(
    session: AsyncSession, principal: Principal | None, publication_id: UUID
) -> Publication:
    publication = await session.scalar(
        select(Publication).where(Publication.id == publication_id, visible(Publication, principal))
    )
    if publication is None:
        raise NotFound(f"no publication {publication_id}")
    return publication


async def publication_schema(session: AsyncSession, publication: Publication) -> schemas.Publication:
    return (await publication_schemas(session, [publication]))[0]


# --- writing -------------------------------------------------------------------------------


async def create_training(
    session: AsyncSession,
    principal: Principal,
    data: schemas.TrainingCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Training | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "training.create",
        data,
        lambda: _create_training(session, principal, data, origin),
    )


async def _create_training(
    session: AsyncSession, principal: Principal, data: schemas.TrainingCreate, origin: str
) -> schemas.Training:
    with Errors() as errors:
        changes = _training_changes(data, errors)
        _check_training(changes, errors)
        with errors.collect():
            changes["share_with"] = await resolve_share_with(session, data.sharing, data.share_with)
    training = Training(organisation_id=principal.org_id, origin=origin, **changes)
    session.add(training)
    await session.flush()
    await session.refresh(training)
    await record_action(session, principal, "training.create", "training", training.id, data)
    return await training_schema(session, training)


async def update_training(
    session: AsyncSession,
    principal: Principal,
    training_id: UUID,
    data: schemas.TrainingUpdate,
    if_match: str | None,
) -> schemas.Training:
    training = await get_training(session, principal, training_id)
    await lock_for_owner(session, principal, training, "training")
    with Errors() as errors:
        changes = _training_changes(data, errors)
        _check_training(
            {
                **{
                    c: getattr(training, c)
                    for c in ("starts_at", "ends_at", "application_deadline", "format")
                },
                **{c: getattr(training, c) for c in ("country", "apply_url", "apply_email")},
                **changes,
            },
            errors,
        )
        with errors.collect():
            await resolve_sharing(session, training, changes)
    await apply_changes(session, training, changes, if_match)
    await record_action(session, principal, "training.update", "training", training_id, data)
    return await training_schema(session, training)


async def delete_training(
    session: AsyncSession, principal: Principal, training_id: UUID, if_match: str | None
) -> None:
    training = await get_training(session, principal, training_id)
    await lock_for_owner(session, principal, training, "training")
    check_version(if_match, training.version)
    await session.delete(training)
    await session.flush()
    await record_action(session, principal, "training.delete", "training", training_id)


async def create_publication(
    session: AsyncSession,
    principal: Principal,
    data: schemas.PublicationCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Publication | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "publication.create",
        data,
        lambda: _create_publication(session, principal, data, origin),
    )


async def _create_publication(
    session: AsyncSession, principal: Principal, data: schemas.PublicationCreate, origin: str
) -> schemas.Publication:
    with Errors() as errors:
        changes = _publication_changes(data, errors)
        with errors.collect():
            changes["share_with"] = await resolve_share_with(session, data.sharing, data.share_with)
    publication = Publication(organisation_id=principal.org_id, origin=origin, **changes)
    session.add(publication)
    await session.flush()
    await session.refresh(publication)
    await record_action(session, principal, "publication.create", "publication", publication.id, data)
    return await publication_schema(session, publication)


async def update_publication(
    session: AsyncSession,
    principal: Principal,
    publication_id: UUID,
    data: schemas.PublicationUpdate,
    if_match: str | None,
) -> schemas.Publication:
    publication = await get_publication(session, principal, publication_id)
    await lock_for_owner(session, principal, publication, "publication")
    with Errors() as errors:
        changes = _publication_changes(data, errors)
        with errors.collect():
            await resolve_sharing(session, publication, changes)
    await apply_changes(session, publication, changes, if_match)
    await record_action(session, principal, "publication.update", "publication", publication_id, data)
    return await publication_schema(session, publication)


async def delete_publication(
    session: AsyncSession, principal: Principal, publication_id: UUID, if_match: str | None
) -> None:
    publication = await get_publication(session, principal, publication_id)
    await lock_for_owner(session, principal, publication, "publication")
    check_version(if_match, publication.version)
    await session.delete(publication)
    await session.flush()
    await record_action(session, principal, "publication.delete", "publication", publication_id)
