"""If-Match on PATCH (a stale version is a 412 and changes nothing) and Idempotency-Key on the creating
POSTs of requests and responses (the same key and body replay the first answer)."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.requests.conftest import (
    PROBLEM,
    Caller,
    Network,
    count,
    field_errors,
    get,
    make_request,
    request_body,
)


async def test_patch_honours_if_match(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    made = await make_request(client, au, network)
    url = f"/v1/requests/{made['id']}"
    current = await client.get(url, headers=au.headers)
    assert current.headers["etag"] == f'"{made["version"]}"'
    version = made["version"]

    changed = await client.patch(
        url, json={"title": "Ceasefire design, phase two"}, headers={**au.headers, "If-Match": f'"{version}"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == f'"{version + 1}"'
    assert changed.json()["version"] == version + 1
    assert changed.json()["title"] == "Ceasefire design, phase two"

    for body in (
        {"title": "Stale rename"},
        {"state": "on-hold"},
        {"addressees": [network.igad_office["id"]]},
    ):
        stale = await client.patch(url, json=body, headers={**au.headers, "If-Match": f'"{version}"'})
        assert stale.status_code == 412, (body, stale.text)
        assert stale.headers["content-type"] == PROBLEM
    now = await get(client, au, url)
    assert (now["title"], now["state"], now["version"]) == (
        "Ceasefire design, phase two",
        "submitted",
        version + 1,
    )
    assert [a["office_id"] for a in now["addressees"]] == [network.eu_office["id"]]

    held = await client.patch(
        url, json={"state": "on-hold"}, headers={**au.headers, "If-Match": f'W/"{version + 1}"'}
    )
    assert held.status_code == 200, held.text
    assert held.json()["state"] == "on-hold"
    garbage = await client.patch(
        url, json={"title": "x" * 10}, headers={**au.headers, "If-Match": "yesterday"}
    )
    assert garbage.status_code == 422
    assert "If-Match" in field_errors(garbage)


async def test_idempotency_key_replays_a_created_request_and_response(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network, owner_conn: asyncpg.Connection
) -> None:
    body = request_body(network.process["id"], network.au_office["id"], addressees=[network.eu_office["id"]])
    headers = {**au.headers, "Idempotency-Key": "ask-eu-ceasefire-1"}
    first = await client.post("/v1/requests", json=body, headers=headers)
    again = await client.post("/v1/requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    other = await client.post("/v1/requests", json={**body, "title": "Another ask"}, headers=headers)
    assert other.status_code == 422
    assert field_errors(other) == ["Idempotency-Key"]
    assert await count(owner_conn, "requests") == 1
    assert (await get(client, au, "/v1/requests"))["total"] == 1
    # the key is the caller's: another organisation using the same key makes its own request
    theirs = request_body(
        network.process["id"], network.eu_office["id"], addressees=[network.au_office["id"]]
    )
    made = await client.post(
        "/v1/requests", json=theirs, headers={**eu.headers, "Idempotency-Key": "ask-eu-ceasefire-1"}
    )
    assert made.status_code == 201, made.text
    assert "idempotent-replayed" not in made.headers
    assert made.json()["organisation"] == "eu"
    assert await count(owner_conn, "requests") == 2

    # a response too: replayed, where a second response without the key is refused
    sent = await make_request(client, au, network)
    responses_url = f"/v1/requests/{sent['id']}/responses"
    body = {"office_id": network.eu_office["id"], "kind": "offer", "note": "Two advisers"}
    headers = {**eu.headers, "Idempotency-Key": "offer-1"}
    first = await client.post(responses_url, json=body, headers=headers)
    again = await client.post(responses_url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    without_key = await client.post(responses_url, json=body, headers=eu.headers)
    assert without_key.status_code == 409  # an office responds once
    assert await count(owner_conn, "request_responses") == 1
    assert (await get(client, au, responses_url))["total"] == 1
