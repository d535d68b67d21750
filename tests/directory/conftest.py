from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import Caller, MakeCaller

SCOPES = ["directory:read", "directory:write", "audit:read"]


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def eu(make_caller: MakeCaller) -> Caller:
    return await make_caller("eu", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)


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
