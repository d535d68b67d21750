from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import Caller, MakeCaller

SCOPES = ["roster:read", "roster:write", "roster:contact", "audit:read"]


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def eu(make_caller: MakeCaller) -> Caller:
    return await make_caller("eu", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)


@pytest.fixture
async def eu_reader(make_caller: MakeCaller, eu: Caller) -> Caller:
    """A second client of the EU, holding roster:read and nothing else."""
    return await make_caller("eu", ["roster:read"])


def expert_body(**fields: Any) -> dict[str, Any]:
    """A complete, valid expert; ``fields`` replace its parts."""
    body: dict[str, Any] = {
        "name": "Amina Traoré",
        "bio": "Former deputy mediator; supported ceasefire negotiation in the Sahel.",
        "seniority": "senior",
        "expertise": [
            {"kind": "theme", "term": "ceasefire_security", "level": "expert"},
            {"kind": "service_type", "term": "process_design"},
        ],
        "languages": [{"code": "fr", "read": "native", "speak": "native", "write": "native"}, {"code": "en"}],
        "nationalities": ["ML"],
        "experience": ["ML", "western_africa"],
        "availability": [{"start": "2027-01-01", "end": "2027-06-30"}],
        "affiliations": ["University of Bamako"],
        "past_processes": ["Algiers process"],
        "consent": {"given_on": "2026-10-01", "purpose": "network roster", "recorded_by": "AU MSU"},
        "contact": {"email": "amina@example.org", "phone": "+223 20 00 00 00"},
    }
    body.update(fields)
    return body


async def make_expert(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/experts", json=expert_body(**fields), headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def as_owner(conn: asyncpg.Connection, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows read as the schema owner with row-level security lifted for the read only (the change is
    rolled back, so nothing of it outlives the call)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("ALTER TABLE experts NO FORCE ROW LEVEL SECURITY")
        await conn.execute("ALTER TABLE expert_contacts NO FORCE ROW LEVEL SECURITY")
        return await conn.fetch(query, *args)
    finally:
        await transaction.rollback()


async def counts(conn: asyncpg.Connection) -> tuple[int, int]:
    """How many expert rows (tombstones included) and contact rows exist, whoever owns them."""
    rows = await as_owner(
        conn, "SELECT (SELECT count(*) FROM experts) AS e, (SELECT count(*) FROM expert_contacts) AS c"
    )
    return rows[0]["e"], rows[0]["c"]
