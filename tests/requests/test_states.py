"""The lifecycle beyond the happy path: holding and resuming, withdrawing from every open state,
rejection when every addressee declines, outcomes, and every transition in the history and the audit
log."""

from __future__ import annotations

from datetime import datetime

from litestar.testing import AsyncTestClient

from tests.requests.conftest import Caller, Network, get, make_office, make_request, patch, post


def moves(request: dict) -> list[tuple[str | None, str]]:
    return [(h["from_state"], h["to_state"]) for h in request["history"]]


async def respond(
    client: AsyncTestClient, caller: Caller, request: dict, office: dict, **fields: str
) -> dict:
    body = {"office_id": office["id"], "kind": "offer", **fields}
    return await post(client, caller, f"/v1/requests/{request['id']}/responses", body)


async def test_hold_and_resume_return_to_the_state_held_from(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    made = await make_request(client, au, network)
    url = f"/v1/requests/{made['id']}"
    held = await patch(client, au, url, {"state": "on-hold"})
    assert held["state"] == "on-hold"
    assert held["allowed_transitions"] == ["submitted", "cancelled"]
    # nothing moves it on while it is held: no response, no other state
    offered = await client.post(
        f"{url}/responses", json={"office_id": network.eu_office["id"], "kind": "offer"}, headers=eu.headers
    )
    assert offered.status_code == 409, offered.text
    wrong = await client.patch(
        url, json={"state": "received"}, headers={**au.headers, "If-Match": f'"{held["version"]}"'}
    )
    assert wrong.status_code == 409, wrong.text
    assert wrong.json()["allowed"] == ["submitted", "cancelled"]
    closing = await client.post(
        f"{url}/close", json={"delivered": True, "modality": "remote"}, headers=au.headers
    )
    assert closing.status_code == 409
    assert closing.json()["allowed"] == ["submitted", "cancelled"]

    resumed = await patch(client, au, url, {"state": "submitted"})
    assert resumed["state"] == "submitted"
    assert resumed["submitted_at"] == made["submitted_at"]  # resuming is not a new submission
    await respond(client, eu, made, network.eu_office)
    held = await patch(client, au, url, {"state": "on-hold"})
    assert held["allowed_transitions"] == ["received", "cancelled"]
    wrong = await client.patch(
        url, json={"state": "submitted"}, headers={**au.headers, "If-Match": f'"{held["version"]}"'}
    )
    assert wrong.status_code == 409
    assert wrong.json()["allowed"] == ["received", "cancelled"]
    back = await patch(client, au, url, {"state": "received"})
    assert back["state"] == "received"
    assert moves(back) == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "on-hold"),
        ("on-hold", "submitted"),
        ("submitted", "received"),
        ("received", "on-hold"),
        ("on-hold", "received"),
    ]
    # an addressee cannot hold it
    eu_if_match = {**eu.headers, "If-Match": f'"{back["version"]}"'}
    assert (await client.patch(url, json={"state": "on-hold"}, headers=eu_if_match)).status_code == 403


async def test_states_set_only_by_their_own_calls_are_refused_by_patch(
    client: AsyncTestClient, au: Caller, network: Network
) -> None:
    made = await make_request(client, au, network)
    url = f"/v1/requests/{made['id']}"
    assert made["allowed_transitions"] == ["on-hold", "received", "cancelled"]
    if_match = {**au.headers, "If-Match": f'"{made["version"]}"'}
    for state in ("draft", "received", "accepted", "rejected", "completed", "cancelled", "in-progress"):
        response = await client.patch(url, json={"state": state}, headers=if_match)
        assert response.status_code == 409, (state, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        allowed = response.json()["allowed"]
        # the states named are ones the request can go to, never the one just refused
        assert "on-hold" in allowed, (state, allowed)
        assert set(allowed) <= set(made["allowed_transitions"]), (state, allowed)
        assert state not in allowed, (state, allowed)
    unknown = await client.patch(url, json={"state": "paused"}, headers=if_match)
    assert unknown.status_code == 422
    assert (await get(client, au, url))["version"] == made["version"]


async def test_withdraw_from_every_open_state_and_not_after(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    async def in_state(state: str) -> dict:
        made = await make_request(client, au, network, submit=state != "draft")
        url = f"/v1/requests/{made['id']}"
        if state == "on-hold":
            await patch(client, au, url, {"state": "on-hold"})
        if state in ("received", "accepted", "in-progress", "rejected", "completed"):
            kind = {"kind": "decline", "reason": "no capacity"} if state == "rejected" else {}
            offer = await respond(client, eu, made, network.eu_office, **kind)
        if state in ("accepted", "in-progress", "completed"):
            await post(client, au, f"{url}/responses/{offer['id']}/accept", status=200)
        if state == "in-progress":
            await patch(client, au, url, {"state": "in-progress"})
        if state == "completed":
            await post(client, au, f"{url}/close", {"delivered": True, "modality": "both"}, status=200)
        now = await get(client, au, url)
        assert now["state"] == state
        return now

    for state in ("draft", "submitted", "on-hold", "received", "accepted", "in-progress"):
        now = await in_state(state)
        withdrawn = await post(client, au, f"/v1/requests/{now['id']}/withdraw", status=200)
        assert withdrawn["state"] == "cancelled", state
        assert withdrawn["closed_at"]
        assert withdrawn["allowed_transitions"] == []
        assert moves(withdrawn)[-1] == (state, "cancelled")
    for state, allowed in (("rejected", ["completed"]), ("completed", [])):
        now = await in_state(state)
        refused = await client.post(f"/v1/requests/{now['id']}/withdraw", headers=au.headers)
        assert refused.status_code == 409, (state, refused.text)
        assert refused.json()["allowed"] == allowed
        assert (await get(client, au, f"/v1/requests/{now['id']}"))["state"] == state

    # withdrawing settles the open offers
    made = await make_request(client, au, network)
    offer = await respond(client, eu, made, network.eu_office)
    await post(client, au, f"/v1/requests/{made['id']}/withdraw", status=200)
    (seen,) = (await get(client, eu, f"/v1/requests/{made['id']}/responses"))["items"]
    assert (seen["id"], seen["status"]) == (offer["id"], "not_selected")
    # a cancelled request takes no response and no change
    url = f"/v1/requests/{made['id']}"
    etag = (await client.get(url, headers=au.headers)).headers["etag"]
    late = await client.patch(url, json={"title": "Again"}, headers={**au.headers, "If-Match": etag})
    assert late.status_code == 409


async def test_a_request_every_addressee_declines_is_rejected_but_not_one_with_an_offer(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    made = await make_request(client, au, network)
    await respond(client, eu, made, network.eu_office, kind="decline", reason="no French speakers free")
    now = await get(client, au, f"/v1/requests/{made['id']}")
    assert now["state"] == "rejected"
    assert moves(now)[-2:] == [("submitted", "received"), ("received", "rejected")]
    assert now["allowed_transitions"] == ["completed"]
    closed = await post(
        client,
        au,
        f"/v1/requests/{made['id']}/close",
        {"delivered": False, "reason": "nobody could help"},
        status=200,
    )
    assert closed["state"] == "completed"
    assert closed["outcome"] == {
        "delivered": False,
        "modality": None,
        "reason": "nobody could help",
        "note": "",
    }

    # one offer among declines keeps a request received
    second = await make_office(client, eu, "EU Brussels desk")
    mixed = await make_request(client, au, network, addressees=[network.eu_office["id"], second["id"]])
    await respond(client, eu, mixed, network.eu_office, kind="decline", reason="busy")
    await respond(client, eu, mixed, second)
    assert (await get(client, au, f"/v1/requests/{mixed['id']}"))["state"] == "received"
    again = await client.post(
        f"/v1/requests/{mixed['id']}/responses",
        json={"office_id": second["id"], "kind": "decline", "reason": "changed our mind"},
        headers=eu.headers,
    )
    assert again.status_code == 409, again.text  # an office responds once
    assert (await get(client, au, f"/v1/requests/{mixed['id']}/responses"))["total"] == 2


async def test_a_request_is_rejected_when_addressees_of_different_organisations_all_decline(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    made = await make_request(
        client, au, network, addressees=[network.eu_office["id"], network.igad_office["id"]]
    )
    await respond(client, eu, made, network.eu_office, kind="decline", reason="no capacity")
    assert (await get(client, au, f"/v1/requests/{made['id']}"))["state"] == "received"
    await respond(client, igad, made, network.igad_office, kind="decline", reason="outside our region")
    now = await get(client, au, f"/v1/requests/{made['id']}")
    assert now["state"] == "rejected", moves(now)


async def test_every_transition_is_timestamped_in_the_history_and_audited(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    made = await make_request(client, au, network, submit=False)
    url = f"/v1/requests/{made['id']}"
    await post(client, au, f"{url}/submit", status=200)
    await patch(client, au, url, {"state": "on-hold"})
    await patch(client, au, url, {"state": "submitted"})
    offer = await respond(client, eu, made, network.eu_office, note="two advisers")
    await post(client, au, f"{url}/responses/{offer['id']}/accept", status=200)
    await patch(client, au, url, {"state": "in-progress"})
    closed = await post(
        client,
        au,
        f"{url}/close",
        {"delivered": True, "modality": "in_person", "note": "Ceasefire annex drafted"},
        status=200,
    )
    assert closed["outcome"] == {
        "delivered": True,
        "modality": "in_person",
        "reason": "",
        "note": "Ceasefire annex drafted",
    }
    assert closed["closed_at"]
    history = closed["history"]
    assert [(h["from_state"], h["to_state"], h["organisation"]) for h in history] == [
        (None, "draft", "au"),
        ("draft", "submitted", "au"),
        ("submitted", "on-hold", "au"),
        ("on-hold", "submitted", "au"),
        ("submitted", "received", "eu"),
        ("received", "accepted", "au"),
        ("accepted", "in-progress", "au"),
        ("in-progress", "completed", "au"),
    ]
    instants = [datetime.fromisoformat(h["at"]) for h in history]
    assert all(i.utcoffset() is not None for i in instants)
    assert instants == sorted(instants)
    assert history[-1]["note"] == "Ceasefire annex drafted"
    assert (await get(client, eu, url))["history"] == history  # the addressee reads the same history

    def actions(body: dict) -> list[str]:
        return [e["action"] for e in sorted(body["items"], key=lambda e: e["seq"])]

    assert actions(await get(client, au, "/v1/audit", resource_id=made["id"])) == [
        "request.create",
        "request.submit",
        "request.hold",
        "request.resume",
        "request.start",
        "request.close",
    ]
    assert actions(await get(client, au, "/v1/audit", resource_id=offer["id"])) == ["request.accept"]
    assert actions(await get(client, eu, "/v1/audit", resource_id=offer["id"])) == ["request.respond"]
