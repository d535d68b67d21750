"""What every part of the demo loader shares: the principal it acts as, its audit entries, its counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import REQUEST_KEY, AuditEvent, RequestOrigin, record
from msnet.auth.principal import Principal
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.demo import specs
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.settings import Settings


@dataclass
class Counts:
    """Records of the demo organisations afterwards, and how many of them this run created."""

    offices: int = 0
    capacities: int = 0
    stale: int = 0
    experts: int = 0
    new_offices: int = 0
    new_capacities: int = 0
    new_experts: int = 0
    trainings: int = 0
    new_trainings: int = 0
    publications: int = 0
    new_publications: int = 0


async def count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Rows of the one table ``where`` names (autoflush sends what is pending first)."""
    return await session.scalar(select(func.count()).where(*where)) or 0


def homed(homes: Collection[str] | None) -> list[str]:
    """The slugs of the demo organisations homed on this node (``homes``; None: every one), sorted."""
    return sorted(o.slug for o in specs.organisations() if homes is None or o.slug in homes)


def principal(org: Organisation) -> Principal:
    """The operator acting for ``org`` through the demo: the services record what it does."""
    return Principal.operator(org.id, org.slug, "demo")


@asynccontextmanager
async def session_of(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction of the demo loader; its audit entries say they came from the demo."""
    assert settings.database_url
    async with cli_session(settings.database_url) as session:
        session.info[REQUEST_KEY] = RequestOrigin(request_id=None, source="demo")
        yield session


async def act_as(session: AsyncSession, slug: str) -> Principal:
    org = await organisations.get_by_slug(session, slug)
    await set_organisation(session, org.id)
    return principal(org)


async def audit(
    session: AsyncSession,
    org_id: UUID,
    action: str,
    resource_type: str,
    resource_id: object,
    payload: Any = None,
) -> None:
    """Record what the operator did through the demo that no service records itself (its clients)."""
    await record(
        session,
        AuditEvent(
            organisation_id=org_id,
            actor="operator",
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id),
            outcome="success",
            source="demo",
            payload=payload,
        ),
    )
