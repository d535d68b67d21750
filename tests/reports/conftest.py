"""The reports' tests build their requests, responses and events with known times straight in the
database (as the schema owner, one organisation at a time, as row-level security demands), then run
the refresh as the service role, as the reports.refresh job does."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from tests.helpers import Caller, MakeCaller, org_ids

from msnet.reports import service

SCOPES = ["requests:read", "requests:write", "training:write"]
ORIGIN = "http://127.0.0.1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Builder:
    """Rows written as the owner, each in a transaction that names its organisation."""

    conn: asyncpg.Connection
    orgs: dict[str, Any]
    offices: dict[str, tuple[uuid.UUID, str]] = field(default_factory=dict)  # name -> (id, org slug)

    async def _as(self, slug: str, sql: str, *args: Any) -> None:
        async with self.conn.transaction():
            await self.conn.execute("SELECT set_config('msnet.org', $1, true)", str(self.orgs[slug]))
            await self.conn.execute(sql, *args)

    async def office(self, slug: str, name: str) -> uuid.UUID:
        office_id = uuid.uuid4()
        await self._as(
            slug,
            "INSERT INTO offices (id, organisation_id, name, sharing, origin) VALUES ($1, $2, $3, 'network', $4)",
            office_id,
            self.orgs[slug],
            name,
            ORIGIN,
        )
        self.offices[name] = (office_id, slug)
        return office_id

    async def process(
        self, slug: str, name: str, regions: list[str], countries: list[str], sharing: str = "network"
    ) -> uuid.UUID:
        process_id = uuid.uuid4()
        await self._as(
            slug,
            "INSERT INTO processes (id, organisation_id, name, countries, region, regions, level, track, "
            "phase, sharing, origin) VALUES ($1, $2, $3, $4, $5, $6, 'national', '1', 'negotiation', $7, $8)",
            process_id,
            self.orgs[slug],
            name,
            countries,
            regions[0] if regions else None,
            regions,
            sharing,
            ORIGIN,
        )
        return process_id

    async def request(
        self,
        office: str,
        process_id: uuid.UUID,
        submitted: datetime | None,
        addressees: list[str],
        *,
        themes: list[str] = (),  # type: ignore[assignment]
        service_types: list[str] = ("process_design",),  # type: ignore[assignment]
        state: str = "submitted",
        outcome: dict[str, Any] | None = None,
        closed: datetime | None = None,
        title: str = "Support to the dialogue",
    ) -> uuid.UUID:
        office_id, slug = self.offices[office]
        request_id = uuid.uuid4()
        await self._as(
            slug,
            "INSERT INTO requests (id, organisation_id, office_id, process_id, title, service_types, themes, "
            "period_start, period_end, urgency, mandate_type, route, addressee_offices, addressee_orgs, "
            "state, outcome, submitted_at, closed_at, sharing, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "'2027-01-01', '2027-12-31', 'routine', 'other', 'named', $8, $9, $10, $11::jsonb, $12, $13, "
            "'private', $14)",
            request_id,
            self.orgs[slug],
            office_id,
            process_id,
            title,
            list(service_types),
            list(themes),
            [self.offices[a][0] for a in addressees],
            [self.orgs[self.offices[a][1]] for a in addressees],
            state,
            json.dumps(outcome) if outcome else None,
            submitted,
            closed,
            ORIGIN,
        )
        return request_id

    async def respond(
        self,
        request_id: uuid.UUID,
        requester: str,
        office: str,
        when: datetime,
        kind: str = "offer",
        experts: int = 0,
        status: str = "open",
    ) -> None:
        office_id, slug = self.offices[office]
        await self._as(
            slug,
            "INSERT INTO request_responses (id, request_id, organisation_id, requester_id, office_id, kind, "
            "expert_ids, status, reason, origin, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            uuid.uuid4(),
            request_id,
            self.orgs[slug],
            self.orgs[requester],
            office_id,
            kind,
            [uuid.uuid4() for _ in range(experts)],
            status,
            "no capacity" if kind == "decline" else "",
            ORIGIN,
            when,
        )

    async def event(self, request_id: uuid.UUID, slug: str, to_state: str, when: datetime) -> None:
        await self._as(
            slug,
            "INSERT INTO request_events (id, request_id, organisation_id, to_state, at) VALUES ($1, $2, $3, $4, $5)",
            uuid.uuid4(),
            request_id,
            self.orgs[slug],
            to_state,
            when,
        )

    async def training(
        self, slug: str, starts: datetime, themes: list[str], regions: list[str], country: str
    ) -> None:
        await self._as(
            slug,
            "INSERT INTO trainings (id, organisation_id, title, kind, themes, format, country, regions, "
            "starts_at, ends_at, time_zone, sharing, origin) VALUES ($1, $2, 'Course', 'course', $3, "
            "'in_person', $4, $5, $6, $7, 'UTC', 'network', $8)",
            uuid.uuid4(),
            self.orgs[slug],
            themes,
            country,
            regions,
            starts,
            starts + timedelta(days=2),
            ORIGIN,
        )


@pytest.fixture
async def callers(make_caller: MakeCaller) -> dict[str, Caller]:
    return {slug: await make_caller(slug, SCOPES) for slug in ("au", "eu", "igad")}


@pytest.fixture
async def builder(callers: dict[str, Caller], owner_conn: asyncpg.Connection) -> Builder:
    return Builder(owner_conn, await org_ids(owner_conn))


async def refresh(sessionmaker: async_sessionmaker) -> int:
    """One run of the refresh, as the service role (what the reports.refresh job does)."""
    async with sessionmaker() as session, session.begin():
        return await service.refresh(session)
