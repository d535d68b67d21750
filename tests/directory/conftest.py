from __future__ import annotations

from dataclasses import dataclass

import pytest
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for

SCOPES = ["directory:read", "directory:write", "audit:read"]


@dataclass
class Caller:
    slug: str
    headers: dict[str, str]


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings) -> Caller:
    return Caller("au", bearer(await token_for(client, await add_client(settings, "au", SCOPES))))


@pytest.fixture
async def eu(client: AsyncTestClient, settings: Settings) -> Caller:
    return Caller("eu", bearer(await token_for(client, await add_client(settings, "eu", SCOPES))))


@pytest.fixture
async def igad(client: AsyncTestClient, settings: Settings) -> Caller:
    return Caller("igad", bearer(await token_for(client, await add_client(settings, "igad", SCOPES))))


async def make_office(client: AsyncTestClient, caller: Caller, **fields) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": f"{caller.slug.upper()} Mediation Support Unit", **fields}
    response = await client.post("/v1/offices", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_capacity(client: AsyncTestClient, caller: Caller, office_id: str, **fields) -> dict:  # type: ignore[no-untyped-def]
    body = {"service_type": "process_design", **fields}
    response = await client.post(f"/v1/offices/{office_id}/capacities", json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()
