from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import Caller, MakeCaller

SCOPES = ["training:read", "training:write", "audit:read"]
TABLES = ("trainings", "publications", "digest_subscriptions", "digest_runs")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No outbox worker inside the app under test: the digest tests run the workers they mean to."""
    return replace(settings, worker=False)


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def eu(make_caller: MakeCaller) -> Caller:
    return await make_caller("eu", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)


def training_body(**fields: Any) -> dict[str, Any]:
    """A complete, valid training; ``fields`` replace its parts."""
    body: dict[str, Any] = {
        "title": "Mediation process design course",
        "description": "Five days on designing inclusive mediation processes, with case studies from the Sahel.",
        "kind": "course",
        "themes": ["national_dialogue", "gender_inclusion"],
        "format": "in_person",
        "city": "Addis Ababa",
        "country": "ET",
        "start": "2027-03-08T09:00:00+03:00",
        "end": "2027-03-12T17:00:00+03:00",
        "time_zone": "Africa/Addis_Ababa",
        "application_deadline": "2027-01-31T23:59:00+03:00",
        "seats": 24,
        "languages": ["en", "fr"],
        "audience": ["member_staff", "envoy_teams"],
        "cost": "Free; travel covered by the sending organisation",
        "apply_url": "https://training.au.example.org/design-2027",
    }
    body.update(fields)
    return body


def publication_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Guidance on gender and inclusive mediation strategies",
        "summary": "Practical options for including women and youth at every stage of a process.",
        "themes": ["gender_inclusion"],
        "languages": ["en", "fr"],
        "url": "https://publications.example.org/inclusive-mediation",
        "published_on": "2026-10-15",
    }
    body.update(fields)
    return body


async def make_training(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/trainings", json=training_body(**fields), headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_publication(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/publications", json=publication_body(**fields), headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows of each table, whoever owns them (row-level security lifted for this read only)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        result = {}
        for table in TABLES:
            await conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            result[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return result
    finally:
        await transaction.rollback()
