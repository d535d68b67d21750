"""The demo organisations' offices and capacities (``offices.json``), created once, by office name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.demo import base, specs
from msnet.directory import schemas, service
from msnet.directory.models import Capacity, Office
from msnet.organisations.models import Organisation
from msnet.settings import Settings


def _office_create(spec: specs.OfficeSpec) -> schemas.OfficeCreate:
    return schemas.OfficeCreate(
        name=spec.name,
        mandate=spec.mandate,
        parent_structure=spec.parent_structure,
        staff_size=spec.staff_size,
        role_mailbox=spec.role_mailbox,
        sharing=spec.sharing,
    )


def _capacity_create(spec: specs.CapacitySpec) -> schemas.CapacityCreate:
    return schemas.CapacityCreate(
        service_type=spec.service_type,
        themes=list(spec.themes),
        countries=list(spec.countries),
        regions=list(spec.regions),
        languages=list(spec.languages),
        lead_time_days=spec.lead_time_days,
        concurrent_engagements=spec.concurrent_engagements,
        notes=spec.notes,
        sharing=spec.sharing,
    )


async def ensure(session: AsyncSession, settings: Settings, org: Organisation, counts: base.Counts) -> None:
    principal = base.principal(org)
    existing = set(await session.scalars(select(Office.name).where(Office.organisation_id == org.id)))
    for spec in specs.offices()[org.slug]:
        if spec.name in existing:
            continue
        office_data = _office_create(spec)
        office = await service.create_office(session, principal, office_data, origin=settings.issuer)
        counts.new_offices += 1
        for capacity_spec in spec.capacities:
            capacity_data = _capacity_create(capacity_spec)
            capacity = await service.create_capacity(
                session, principal, office.id, capacity_data, origin=settings.issuer
            )
            if capacity_spec.confirmed_days_ago is not None:
                # not re-confirmed for a while, so that staleness shows: as if entered back then
                row = await session.get(Capacity, capacity.id)
                assert row is not None
                row.last_confirmed_at = row.created_at = row.updated_at = datetime.now(UTC) - timedelta(
                    days=capacity_spec.confirmed_days_ago
                )
            counts.new_capacities += 1
    counts.offices += await base.count(session, Office.organisation_id == org.id)
    counts.capacities += await base.count(session, Capacity.organisation_id == org.id)
    counts.stale += await base.count(
        session,
        Capacity.organisation_id == org.id,
        Capacity.last_confirmed_at < func.now() - service.STALE_AFTER,
    )
