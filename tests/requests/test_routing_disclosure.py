"""Routing says neither too much nor too little: the requester sees every office routed to and every
match; an addressed organisation its own offices' scores and reasons only (not who else was asked,
their scores or their load); the requester's own offices are flagged, and a request may leave its
own organisation out of routing."""

from __future__ import annotations

import json

from litestar.testing import AsyncTestClient

from tests.requests.conftest import (
    Caller,
    Network,
    field_errors,
    get,
    make_capacity,
    make_expert,
    make_office,
    make_request,
    patch,
    post,
)
from tests.requests.test_matches import EXPERTISE

STRONG = {"themes": ["ceasefire_security"], "countries": ["CF"], "languages": ["fr"]}


async def test_an_addressee_sees_its_own_routing_only_and_the_requester_everything(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    eu_office, igad_office = network.eu_office["id"], network.igad_office["id"]
    await make_capacity(client, igad, igad_office, concurrent_engagements=3, **STRONG)
    draft = await make_request(client, au, network, submit=False, route="best_matches", addressees=[])
    submitted = await post(client, au, f"/v1/requests/{draft['id']}/submit", status=200)
    routed = {r["office_id"]: r for r in submitted["routing"]}
    assert set(routed) == {eu_office, igad_office}
    assert {a["office_id"] for a in submitted["addressees"]} == {eu_office, igad_office}
    assert [r["own_organisation"] for r in routed.values()] == [False, False]
    matched = {
        o["office_id"] for o in (await get(client, au, f"/v1/requests/{draft['id']}/matches"))["offices"]
    }
    assert {eu_office, igad_office} <= matched
    decline = {"office_id": igad_office, "kind": "decline", "reason": "no one free"}
    await post(client, igad, f"/v1/requests/{draft['id']}/responses", decline)  # IGAD answers first
    history = (await get(client, au, f"/v1/requests/{draft['id']}"))["history"]
    assert (history[-1]["to_state"], history[-1]["organisation"]) == ("received", "igad")

    for caller, own, other, other_slug in (
        (eu, eu_office, igad_office, "igad"),
        (igad, igad_office, eu_office, "eu"),
    ):
        views = [
            await get(client, caller, f"/v1/requests/{draft['id']}"),
            (await get(client, caller, "/v1/inbox"))["items"][0],
            (await get(client, caller, "/v1/requests"))["items"][0],
        ]
        for seen in views:
            assert seen["routing"] == [routed[own]], caller.slug
            assert seen["state"] == "received"
            assert [a["office_id"] for a in seen["addressees"]] == [own]
            said = json.dumps(seen)
            assert other not in said  # neither the other office, nor its score, nor its load
            assert f'"{other_slug}"' not in said
        assert (
            await client.get(f"/v1/requests/{draft['id']}/matches", headers=caller.headers)
        ).status_code == 403
    received = (await get(client, eu, f"/v1/requests/{draft['id']}"))["history"][-1]
    assert (received["to_state"], received["organisation"]) == ("received", None)  # not who answered


async def test_the_requesters_own_offices_are_flagged_and_can_be_left_out(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    own = await make_office(client, au, "AU Liaison Office to the ECCAS")
    await make_capacity(client, au, own["id"], **STRONG)
    own_expert = await make_expert(client, au, name="Own Expert", expertise=EXPERTISE, experience=["CF"])
    made = await make_request(client, au, network, submit=False)
    assert made["exclude_own_organisation"] is False
    matches = await get(client, au, f"/v1/requests/{made['id']}/matches")
    flags = {o["office_id"]: o["own_organisation"] for o in matches["offices"]}
    assert flags == {own["id"]: True, network.eu_office["id"]: False}
    assert own_expert["id"] in {e["expert_id"] for e in matches["experts"]}

    changed = await patch(
        client, au, f"/v1/requests/{made['id']}", {"exclude_own_organisation": True}, **{"If-Match": '"1"'}
    )
    assert changed["exclude_own_organisation"] is True
    matches = await get(client, au, f"/v1/requests/{made['id']}/matches")
    assert [o["office_id"] for o in matches["offices"]] == [network.eu_office["id"]]
    assert own_expert["id"] not in {e["expert_id"] for e in matches["experts"]}

    # routed to the best matches: the own office is one of them and flagged, unless left out
    with_own = await make_request(client, au, network, route="best_matches", addressees=[])
    assert {r["office_id"]: r["own_organisation"] for r in with_own["routing"]} == {
        own["id"]: True,
        network.eu_office["id"]: False,
    }
    without = await make_request(
        client, au, network, route="best_matches", addressees=[], exclude_own_organisation=True
    )
    assert [r["office_id"] for r in without["routing"]] == [network.eu_office["id"]]
    assert [a["office_id"] for a in without["addressees"]] == [network.eu_office["id"]]


async def test_a_bad_exclusion_is_422_and_writes_nothing(
    client: AsyncTestClient, au: Caller, network: Network
) -> None:
    made = await make_request(client, au, network, submit=False)
    response = await client.patch(
        f"/v1/requests/{made['id']}",
        json={"exclude_own_organisation": "yes"},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert field_errors(response) == ["exclude_own_organisation"]
    now = await get(client, au, f"/v1/requests/{made['id']}")
    assert (now["exclude_own_organisation"], now["version"]) == (False, 1)
