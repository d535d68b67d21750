"""An organisation sees when another read the contact details of one of its experts (who, when,
which expert), and nothing else of the reader's log; nobody can write such an entry unasked."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.db.embedded import DatabaseUrls
from tests.helpers import MakeCaller, org_ids

EXPERT = {
    "name": "Amina Traoré",
    "consent": {"given_on": "2026-10-01", "purpose": "network roster", "recorded_by": "AU MSU"},
    "contact": {"email": "amina@example.org"},
}


async def entries(client: AsyncTestClient, headers: dict[str, str], **params: str) -> list[dict]:
    response = await client.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_owner_sees_who_read_its_experts_contact(
    client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    au = await make_caller("au", ["roster:read", "roster:write", "roster:contact", "audit:read"])
    eu = await make_caller("eu", ["roster:read", "roster:contact", "audit:read"])
    expert = (await client.post("/v1/experts", json=EXPERT, headers=au.headers)).json()

    read = await client.get(f"/v1/experts/{expert['id']}/contact", headers=eu.headers)
    assert read.status_code == 200
    assert read.json()["email"] == "amina@example.org"

    (disclosed,) = await entries(client, au.headers, action="expert.contact.disclosed")
    assert disclosed["resource_type"] == "expert"
    assert disclosed["resource_id"] == expert["id"]
    assert disclosed["actor"].startswith("client:eu.")
    assert disclosed["request_id"] is None
    assert disclosed["source"] is None
    # nothing else of the reader's log: of its entries, the owner sees the disclosure only
    owner_log = await entries(client, au.headers)
    assert [e for e in owner_log if e["actor"].startswith("client:eu.")] == [disclosed]
    (own,) = await entries(client, eu.headers, action="expert.contact.read")
    assert own["resource_id"] == expert["id"]
    assert await entries(client, eu.headers, action="expert.contact.disclosed") == []


async def test_reading_ones_own_experts_contact_is_no_disclosure(
    client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    au = await make_caller("au", ["roster:read", "roster:write", "roster:contact", "audit:read"])
    expert = (await client.post("/v1/experts", json=EXPERT, headers=au.headers)).json()
    assert (await client.get(f"/v1/experts/{expert['id']}/contact", headers=au.headers)).status_code == 200
    assert len(await entries(client, au.headers, action="expert.contact.read")) == 1
    assert await entries(client, au.headers, action="expert.contact.disclosed") == []


@pytest.mark.parametrize("forged", ["private expert", "with the reader's address", "another action"])
async def test_the_service_role_cannot_write_into_another_organisations_log(
    client: AsyncTestClient, make_caller: MakeCaller, db_urls: DatabaseUrls, forged: str
) -> None:
    au = await make_caller("au", ["roster:read", "roster:write"])
    await make_caller("eu", ["roster:read"])
    sharing = "private" if forged == "private expert" else "network"
    expert = (
        await client.post("/v1/experts", json={**EXPERT, "sharing": sharing}, headers=au.headers)
    ).json()
    conn = await asyncpg.connect(db_urls.app)
    try:
        orgs = await org_ids(conn)
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs["eu"]))
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute(
                    "INSERT INTO audit_log (seq, id, at, organisation_id, actor, action, resource_type, "
                    "resource_id, outcome, request_id, source, payload_digest, prev_hash, hash) VALUES "
                    "(999999, gen_random_uuid(), now(), $1, 'client:eu.x', $2, 'expert', $3, 'success', "
                    "NULL, $4, NULL, '', '')",
                    orgs["au"],
                    "expert.update" if forged == "another action" else "expert.contact.disclosed",
                    expert["id"],
                    "10.0.0.1" if forged == "with the reader's address" else None,
                )
    finally:
        await conn.close()
