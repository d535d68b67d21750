"""The demo network's trainings (``trainings.json``) and publications (``publications.json``), created
once, by title within an organisation; their links are on example.org."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.demo import base, specs
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from msnet.training import schemas, service
from msnet.training.models import Publication, Training


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-").replace(":", "")[:40]


def _training(spec: specs.TrainingSpec) -> schemas.TrainingCreate:
    venue = spec.venue or specs.trainings().venues[spec.organisation]
    start = spec.start.replace(tzinfo=ZoneInfo(venue.time_zone))
    online = spec.format == "online"
    return schemas.TrainingCreate(
        title=spec.title,
        kind=spec.kind,
        format=spec.format,
        start=start,
        end=spec.end.replace(tzinfo=ZoneInfo(venue.time_zone)),
        time_zone=venue.time_zone,
        description=spec.description,
        themes=list(spec.themes),
        city=None if online else venue.city,
        country=None if online else venue.country,
        application_deadline=start - timedelta(days=spec.deadline_days) if spec.deadline_days else None,
        seats=spec.seats,
        languages=list(spec.languages),
        audience=list(spec.audience),
        cost=spec.cost,
        apply_url=f"https://training.{spec.organisation}.example.org/{_slug(spec.title)}",
        apply_email=f"training@{spec.organisation}.example.org",
        sharing=spec.sharing,
    )


def _publication(spec: specs.PublicationSpec) -> schemas.PublicationCreate:
    return schemas.PublicationCreate(
        title=spec.title,
        url=f"https://library.{spec.organisation}.example.org/{_slug(spec.title)}",
        published_on=spec.published_on,
        summary=spec.summary,
        themes=list(spec.themes),
        languages=list(spec.languages),
        sharing=spec.sharing,
    )


async def ensure(session: AsyncSession, settings: Settings, org: Organisation, counts: base.Counts) -> None:
    principal = base.principal(org)
    mine = Training.organisation_id == org.id
    existing = set(await session.scalars(select(Training.title).where(mine)))
    for spec in specs.trainings().trainings:
        if spec.organisation != org.slug or spec.title in existing:
            continue
        data = _training(spec)
        await service.create_training(session, principal, data, origin=settings.issuer)
        counts.new_trainings += 1
    owned = Publication.organisation_id == org.id
    published = set(await session.scalars(select(Publication.title).where(owned)))
    for pub in specs.publications():
        if pub.organisation != org.slug or pub.title in published:
            continue
        pub_data = _publication(pub)
        await service.create_publication(session, principal, pub_data, origin=settings.issuer)
        counts.new_publications += 1
    counts.trainings += await base.count(session, mine)
    counts.publications += await base.count(session, owned)
