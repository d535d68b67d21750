from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for

SCOPES = [
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "requests:read",
    "requests:write",
    "audit:read",
]


@dataclass
class Caller:
    slug: str
    headers: dict[str, str]


async def _caller(client: AsyncTestClient, settings: Settings, slug: str) -> Caller:
    return Caller(slug, bearer(await token_for(client, await add_client(settings, slug, SCOPES))))


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings) -> Caller:
    return await _caller(client, settings, "au")


@pytest.fixture
async def eu(client: AsyncTestClient, settings: Settings) -> Caller:
    return await _caller(client, settings, "eu")


@pytest.fixture
async def igad(client: AsyncTestClient, settings: Settings) -> Caller:
    return await _caller(client, settings, "igad")


async def post(
    client: AsyncTestClient, caller: Caller, path: str, body: Any = None, status: int = 201
) -> dict:
    response = await client.post(path, json=body, headers=caller.headers)
    assert response.status_code == status, response.text
    return response.json()


async def make_office(
    client: AsyncTestClient, caller: Caller, name: str | None = None, **fields: Any
) -> dict:
    return await post(
        client,
        caller,
        "/v1/offices",
        {"name": name or f"{caller.slug.upper()} Mediation Support Unit", **fields},
    )


async def make_capacity(client: AsyncTestClient, caller: Caller, office_id: str, **fields: Any) -> dict:
    body = {"service_type": "process_design", "lead_time_days": 7, "concurrent_engagements": 2, **fields}
    return await post(client, caller, f"/v1/offices/{office_id}/capacities", body)


async def make_process(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict:
    body = {
        "name": "Central African Republic peace process",
        "countries": ["CF"],
        "conflict_parties": ["Government of CAR", "Coalition des patriotes pour le changement"],
        **fields,
    }
    return await post(client, caller, "/v1/processes", body)


def request_body(process_id: str, office_id: str, **fields: Any) -> dict:
    start = date.today() + timedelta(days=30)
    return {
        "process_id": process_id,
        "office_id": office_id,
        "title": "Ceasefire monitoring design support",
        "service_types": ["process_design"],
        "themes": ["ceasefire_security"],
        "period": {"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
        "languages": ["fr"],
        "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
        **fields,
    }


@dataclass
class Network:
    """AU asks; EU and IGAD have offices that can help."""

    process: dict
    au_office: dict
    eu_office: dict
    igad_office: dict


@pytest.fixture
async def network(client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller) -> Network:
    au_office = await make_office(client, au)
    eu_office = await make_office(client, eu)
    igad_office = await make_office(client, igad)
    await make_capacity(
        client, eu, eu_office["id"], themes=["ceasefire_security"], countries=["CF"], languages=["fr", "en"]
    )
    await make_capacity(client, igad, igad_office["id"], service_type="coaching", regions=["eastern_africa"])
    return Network(await make_process(client, au), au_office, eu_office, igad_office)
