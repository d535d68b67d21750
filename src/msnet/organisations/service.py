"""The organisation registry: list, read, create."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import decode_cursor, encode_cursor
from msnet.errors import Conflict, NotFound
from msnet.organisations import schemas
from msnet.organisations.models import Organisation


def to_schema(org: Organisation) -> schemas.Organisation:
    return schemas.Organisation(
        id=org.id,
        slug=org.slug,
        name=org.name,
        acronym=org.acronym,
        kind=org.kind,  # type: ignore[arg-type]
        identifiers=list(org.identifiers),
        home_node=org.home_node,
        origin=org.origin,
        version=org.version,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


async def list_organisations(
    session: AsyncSession, *, limit: int, cursor: str | None = None, kind: str | None = None
) -> schemas.OrganisationPage:
    query = select(Organisation)
    if kind:
        query = query.where(Organisation.kind == kind)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    if cursor:
        (after,) = decode_cursor(cursor, str)
        query = query.where(Organisation.slug > after)
    rows = list(await session.scalars(query.order_by(Organisation.slug).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].slug) if len(rows) > limit else None
    return schemas.OrganisationPage(
        items=[to_schema(o) for o in rows[:limit]], next_cursor=next_cursor, total=total or 0
    )


async def get_by_slug(session: AsyncSession, slug: str) -> Organisation:
    org = await session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(f"no organisation '{slug}'")
    return org


async def create_organisation(
    session: AsyncSession, data: schemas.OrganisationCreate, *, origin: str
) -> Organisation:
    if await session.scalar(select(Organisation.id).where(Organisation.slug == data.slug)):
        raise Conflict(f"organisation '{data.slug}' already exists")
    org = Organisation(
        slug=data.slug,
        name=data.name,
        acronym=data.acronym,
        kind=data.kind,
        identifiers=list(data.identifiers),
        home_node=data.home_node,
        origin=origin,
    )
    session.add(org)
    await session.flush()
    await session.refresh(org)
    return org
