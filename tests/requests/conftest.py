from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import Caller, MakeCaller

SCOPES = [
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "requests:read",
    "requests:write",
    "audit:read",
]


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def eu(make_caller: MakeCaller) -> Caller:
    return await make_caller("eu", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)


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


# --- added for the request tests: reading helpers, rows behind the API ---

PROBLEM = "application/problem+json"


async def get(client: AsyncTestClient, caller: Caller, path: str, status: int = 200, **params: Any) -> dict:
    response = await client.get(path, params=params, headers=caller.headers)
    assert response.status_code == status, response.text
    return response.json()


async def patch(
    client: AsyncTestClient, caller: Caller, path: str, body: Any, status: int = 200, **headers: str
) -> dict:
    """PATCH ``path`` as ``caller``; with If-Match the ETag ``caller`` reads now, unless ``headers``
    give one."""
    if "If-Match" not in headers:
        headers["If-Match"] = (await client.get(path, headers=caller.headers)).headers["etag"]
    response = await client.patch(path, json=body, headers={**caller.headers, **headers})
    assert response.status_code == status, response.text
    return response.json()


def field_errors(response: Any) -> list[str]:
    """The fields a problem response names (it must be a problem)."""
    assert response.headers["content-type"] == PROBLEM, response.text
    return [e["field"] for e in response.json().get("errors") or []]


async def rows(owner_conn: asyncpg.Connection, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of the request tables read as the schema owner, every organisation's: row-level security
    is lifted for this read only (the change is rolled back)."""
    transaction = owner_conn.transaction()
    await transaction.start()
    try:
        for table in ("processes", "requests", "request_events", "request_responses"):
            await owner_conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        return await owner_conn.fetch(query, *args)
    finally:
        await transaction.rollback()


async def count(owner_conn: asyncpg.Connection, table: str) -> int:
    return (await rows(owner_conn, f"SELECT count(*) AS n FROM {table}"))[0]["n"]


async def make_request(
    client: AsyncTestClient, caller: Caller, network: Network, *, submit: bool = True, **fields: Any
) -> dict:
    """A request of ``caller``'s (the AU's by default network) office, addressed to the EU office unless
    ``fields`` say otherwise; submitted unless ``submit`` is false."""
    fields.setdefault("addressees", [network.eu_office["id"]])
    made = await post(
        client, caller, "/v1/requests", request_body(network.process["id"], network.au_office["id"], **fields)
    )
    if submit:
        made = await post(client, caller, f"/v1/requests/{made['id']}/submit", status=200)
    return made


async def make_expert(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict:
    """A roster expert of ``caller``, available from today for a year."""
    from tests.roster.conftest import expert_body

    today = date.today()
    fields.setdefault(
        "availability", [{"start": today.isoformat(), "end": (today + timedelta(days=365)).isoformat()}]
    )
    return await post(client, caller, "/v1/experts", expert_body(**fields))
