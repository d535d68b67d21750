"""A request's life: draft, submit, respond, accept, start, close; illegal moves are 409s."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.requests.conftest import Caller, Network, post, request_body


async def test_draft_submit_respond_accept_close(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    body = request_body(network.process["id"], network.au_office["id"], addressees=[network.eu_office["id"]])
    draft = await post(client, au, "/v1/requests", body)
    assert draft["state"] == "draft"
    assert draft["sharing"] == "private"
    assert draft["allowed_transitions"] == ["submitted", "cancelled"]
    assert (
        await client.get(f"/v1/requests/{draft['id']}", headers=eu.headers)
    ).status_code == 404  # a draft is the requester's alone
    assert (await client.get("/v1/inbox", headers=eu.headers)).json()["total"] == 0

    submitted = await post(client, au, f"/v1/requests/{draft['id']}/submit", status=200)
    assert submitted["state"] == "submitted"
    assert submitted["submitted_at"]
    inbox = (await client.get("/v1/inbox", headers=eu.headers)).json()
    assert [r["id"] for r in inbox["items"]] == [draft["id"]]
    assert inbox["total"] == 1

    offer = await post(
        client,
        eu,
        f"/v1/requests/{draft['id']}/responses",
        {"office_id": network.eu_office["id"], "kind": "offer", "note": "Two advisers from March"},
    )
    assert offer["status"] == "open"
    assert (await client.get(f"/v1/requests/{draft['id']}", headers=au.headers)).json()["state"] == "received"

    accepted = await post(
        client, au, f"/v1/requests/{draft['id']}/responses/{offer['id']}/accept", status=200
    )
    assert accepted["status"] == "accepted"
    etag = (await client.get(f"/v1/requests/{draft['id']}", headers=au.headers)).headers["etag"]
    response = await client.patch(
        f"/v1/requests/{draft['id']}", json={"state": "in-progress"}, headers={**au.headers, "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    closed = await post(
        client,
        au,
        f"/v1/requests/{draft['id']}/close",
        {"delivered": True, "modality": "remote", "note": "Design agreed"},
        status=200,
    )
    assert closed["state"] == "completed"
    assert closed["outcome"]["delivered"] is True
    assert [(h["from_state"], h["to_state"]) for h in closed["history"]] == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "received"),
        ("received", "accepted"),
        ("accepted", "in-progress"),
        ("in-progress", "completed"),
    ]

    again = await client.post(f"/v1/requests/{draft['id']}/withdraw", headers=au.headers)
    assert again.status_code == 409
    assert again.json()["allowed"] == []


async def test_illegal_transition_names_the_allowed_ones(
    client: AsyncTestClient, au: Caller, network: Network
) -> None:
    draft = await post(
        client, au, "/v1/requests", request_body(network.process["id"], network.au_office["id"])
    )
    response = await client.patch(
        f"/v1/requests/{draft['id']}",
        json={"state": "in-progress"},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.post(
        f"/v1/requests/{draft['id']}/close",
        json={"delivered": True, "modality": "remote"},
        headers=au.headers,
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == ["submitted", "cancelled"]


async def test_route_to_best_matches_addresses_the_matching_office(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    draft = await post(
        client,
        au,
        "/v1/requests",
        request_body(network.process["id"], network.au_office["id"], route="best_matches"),
    )
    submitted = await post(client, au, f"/v1/requests/{draft['id']}/submit", status=200)
    assert [a["office_id"] for a in submitted["addressees"]] == [network.eu_office["id"]]
    assert submitted["routing"][0]["reasons"]
    matches = (await client.get(f"/v1/requests/{draft['id']}/matches", headers=au.headers)).json()
    top = matches["offices"][0]
    assert top["office_id"] == network.eu_office["id"]
    texts = {r["dimension"]: r["text"] for r in top["reasons"]}
    assert texts["service_type"] == "offers process_design, as requested"
    assert texts["coverage"] == "covers CF"
    assert (await client.get(f"/v1/requests/{draft['id']}/matches", headers=eu.headers)).status_code == 403
