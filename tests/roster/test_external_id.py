"""An expert's ``external_id`` (the organisation's own reference): set on create and PATCH, unique
within the organisation only, shown to the organisation alone; and the consent that contact details
shared with the network or the public need."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.roster.conftest import Caller, as_owner, counts, expert_body, make_expert

PROBLEM = "application/problem+json"


def errors(response: Any) -> list[str]:
    assert response.headers["content-type"] == PROBLEM, response.text
    return [e["field"] for e in response.json()["errors"]]


async def test_the_external_id_is_set_changed_and_shown_to_its_own_organisation_only(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    made = await make_expert(client, au, external_id="AU-HR 0042", sharing="public")
    assert made["external_id"] == "AU-HR 0042"
    url = f"/v1/experts/{made['id']}"
    assert (await client.get(url, headers=au.headers)).json()["external_id"] == "AU-HR 0042"
    [own] = (await client.get("/v1/experts", headers=au.headers)).json()["items"]
    assert own["external_id"] == "AU-HR 0042"
    [exported] = (await client.get("/v1/experts/export?format=json", headers=au.headers)).json()
    assert exported["external_id"] == "AU-HR 0042"

    for headers in (eu.headers, {}):  # another organisation, and anyone (the expert is public)
        assert "external_id" not in (await client.get(url, headers=headers)).json()
        [seen] = (await client.get("/v1/experts", headers=headers)).json()["items"]
        assert seen["id"] == made["id"]
        assert "external_id" not in seen
        [seen] = (await client.get("/v1/experts/export?format=json", headers=headers)).json()
        assert "external_id" not in seen
        csv_rows = (await client.get("/v1/experts/export", headers=headers)).text.splitlines()
        assert "AU-HR 0042" not in csv_rows[1]

    changed = await client.patch(
        url, json={"external_id": "AU-HR 0043"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["external_id"], changed.json()["version"]) == ("AU-HR 0043", 2)
    cleared = await client.patch(url, json={"external_id": None}, headers={**au.headers, "If-Match": '"2"'})
    assert cleared.json()["external_id"] is None
    assert "external_id" in cleared.json()  # the owner sees that there is none
    assert (await make_expert(client, au, name="No Reference"))["external_id"] is None


async def test_an_external_id_is_unique_within_its_organisation_and_only_there(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection
) -> None:
    first = await make_expert(client, au, external_id="HR-1")
    before = await counts(owner_conn)
    taken = await client.post(
        "/v1/experts", json=expert_body(name="Second Person", external_id="HR-1"), headers=au.headers
    )
    assert taken.status_code == 409, taken.text
    assert errors(taken) == ["external_id"]
    assert first["id"] in taken.json()["detail"]  # the owner learns which of its experts holds it
    assert await counts(owner_conn) == before

    second = await make_expert(client, au, name="Second Person", external_id="HR-2")
    url = f"/v1/experts/{second['id']}"
    refused = await client.patch(
        url, json={"external_id": "HR-1", "bio": "moved"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert refused.status_code == 409
    assert errors(refused) == ["external_id"]
    assert (await client.get(url, headers=au.headers)).json() == second

    elsewhere = await make_expert(client, eu, name="Another Organisation's", external_id="HR-1")
    assert elsewhere["external_id"] == "HR-1"  # another organisation's reference never clashes

    erased = await client.delete(f"/v1/experts/{first['id']}", headers={**au.headers, "If-Match": '"1"'})
    assert erased.status_code == 204
    moved = await client.patch(url, json={"external_id": "HR-1"}, headers={**au.headers, "If-Match": '"1"'})
    assert moved.status_code == 200, moved.text  # erasure let the reference go with the rest
    [tombstone] = await as_owner(
        owner_conn, "SELECT external_id FROM experts WHERE id = $1", UUID(first["id"])
    )
    assert tombstone["external_id"] is None


@pytest.mark.parametrize(
    ("changes", "created"),
    [
        pytest.param({"consent": None}, False, id="network-with-contact"),
        pytest.param({"consent": None, "sharing": "public"}, False, id="public-with-contact"),
        pytest.param({"consent": None, "sharing": "private"}, True, id="private-with-contact"),
        pytest.param(
            {"consent": None, "sharing": "restricted", "share_with": ["eu"]},
            True,
            id="restricted-with-contact",
        ),
        pytest.param({"consent": None, "contact": None}, True, id="network-without-contact"),
        pytest.param({"consent": None, "contact": {"email": None, "phone": None}}, True, id="empty-contact"),
    ],
)
async def test_contact_details_shared_widely_need_recorded_consent(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    owner_conn: asyncpg.Connection,
    changes: dict,
    created: bool,
) -> None:
    response = await client.post("/v1/experts", json=expert_body(**changes), headers=au.headers)
    if created:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422
    assert errors(response) == ["consent"]
    assert await counts(owner_conn) == (0, 0)


@pytest.mark.parametrize(
    ("made", "patch"),
    [
        pytest.param({"consent": None, "sharing": "private"}, {"sharing": "network"}, id="shared-wider"),
        pytest.param(
            {"consent": None, "contact": None}, {"contact": {"phone": "+33 1 00 00 00"}}, id="contact-added"
        ),
        pytest.param({}, {"consent": None}, id="consent-withdrawn"),
    ],
)
async def test_a_patch_leaving_contact_details_shared_widely_without_consent_is_refused(
    client: AsyncTestClient, au: Caller, made: dict, patch: dict
) -> None:
    expert = await make_expert(client, au, **made)
    url = f"/v1/experts/{expert['id']}"
    response = await client.patch(url, json=patch, headers={**au.headers, "If-Match": '"1"'})
    assert response.status_code == 422, response.text
    assert errors(response) == ["consent"]
    assert (await client.get(url, headers=au.headers)).json() == expert
    unrelated = await client.patch(url, json={"bio": "Changed."}, headers={**au.headers, "If-Match": '"1"'})
    assert unrelated.status_code == 200  # a change that leaves sharing, consent and contact alone
