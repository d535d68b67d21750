"""Bad input on every writing endpoint of requests: a problem (400 for broken JSON, 422 otherwise)
naming the field, and nothing written."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from tests.requests.conftest import (
    PROBLEM,
    Caller,
    Network,
    count,
    field_errors,
    get,
    make_expert,
    make_office,
    make_process,
    make_request,
    post,
    request_body,
)

UNKNOWN = "0190a8f0-0000-7000-8000-000000000000"
JSON = {"content-type": "application/json"}


def bad_request_fields(network: Network, others: dict[str, str]) -> list[tuple[dict[str, Any], str]]:
    """(changes to a valid request, the field the problem must name), for create and update alike."""
    return [
        ({"colour": "red"}, "colour"),
        ({"title": "T" * 201}, "title"),
        ({"title": "T"}, "title"),
        ({"description": "x" * 4001}, "description"),
        ({"service_types": ["process_design", "astrology"]}, "service_types.1"),
        ({"service_types": ["ceasefire_security"]}, "service_types.0"),
        ({"service_types": []}, "service_types"),
        ({"themes": ["process_design"]}, "themes.0"),
        ({"themes": ["ceasefire_security", "astrology"]}, "themes.1"),
        ({"languages": ["fr", "zz"]}, "languages.1"),
        ({"languages": ["french"]}, "languages.0"),
        ({"period": {"start": "2027-03-01", "end": "2027-02-28"}}, "period.end"),
        ({"period": {"start": "2027-02-30", "end": "2027-03-31"}}, "period.start"),
        ({"period": {"start": "2027-03-01"}}, "period.end"),
        ({"urgency": "tomorrow"}, "urgency"),
        ({"mandate": {"type": "divine_right"}}, "mandate.type"),
        ({"mandate": {"type": "other", "reference": "r" * 301}}, "mandate.reference"),
        ({"route": "anyone"}, "route"),
        ({"process_id": UNKNOWN}, "process_id"),
        ({"process_id": others["private_process"]}, "process_id"),
        ({"process_id": "not-a-uuid"}, "process_id"),
        ({"addressees": [UNKNOWN]}, "addressees.0"),
        ({"addressees": [network.eu_office["id"], others["private_office"]]}, "addressees.1"),
        ({"addressees": [network.eu_office["id"], network.au_office["id"]]}, "addressees.1"),
        ({"sharing": "network"}, "sharing"),
        ({"sharing": "public"}, "sharing"),
        ({"sharing": "restricted"}, "share_with"),
        ({"sharing": "restricted", "share_with": ["atlantis"]}, "share_with.0"),
        ({"share_with": ["eu"]}, "share_with"),
    ]


async def hidden_things(client: AsyncTestClient, eu: Caller) -> dict[str, str]:
    """A process and an office the AU may not see."""
    process = await make_process(client, eu, name="EU-only channel", sharing="private")
    office = await make_office(client, eu, "EU back office", sharing="private")
    return {"private_process": process["id"], "private_office": office["id"]}


async def test_bad_input_on_create_is_a_problem_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network, owner_conn: asyncpg.Connection
) -> None:
    others = await hidden_things(client, eu)
    eu_office = network.eu_office["id"]
    cases = [
        *bad_request_fields(network, others),
        ({"office_id": UNKNOWN}, "office_id"),
        ({"office_id": eu_office}, "office_id"),  # another organisation's office cannot ask
        ({"addressees": [network.au_office["id"]]}, "addressees.0"),  # nor the asking office answer
    ]
    base = request_body(network.process["id"], network.au_office["id"], addressees=[eu_office])
    for changes, field in cases:
        response = await client.post("/v1/requests", json={**base, **changes}, headers=au.headers)
        assert response.status_code == 422, (changes, response.text)
        assert field in field_errors(response), (changes, response.text)
    for missing in ("process_id", "office_id", "title", "service_types", "period", "mandate"):
        body = {k: v for k, v in base.items() if k != missing}
        response = await client.post("/v1/requests", json=body, headers=au.headers)
        assert response.status_code == 422, (missing, response.text)
        assert missing in field_errors(response)
    broken = await client.post(
        "/v1/requests", content=b'{"title": "Ceasefire", "period": {', headers={**au.headers, **JSON}
    )
    assert broken.status_code == 400, broken.text
    assert broken.headers["content-type"] == PROBLEM
    assert await count(owner_conn, "requests") == 0
    assert await count(owner_conn, "request_events") == 0
    assert (await get(client, au, "/v1/requests"))["total"] == 0

    # a draft with no addressee (and not routed) cannot be submitted
    made = await make_request(client, au, network, submit=False, addressees=[])
    response = await client.post(f"/v1/requests/{made['id']}/submit", headers=au.headers)
    assert response.status_code == 409, response.text
    assert response.json()["allowed"] == ["cancelled"]
    assert (await get(client, au, f"/v1/requests/{made['id']}"))["state"] == "draft"


async def test_a_bad_patch_is_a_problem_naming_the_field_and_changes_nothing(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    others = await hidden_things(client, eu)
    for submit in (False, True):
        made = await make_request(client, au, network, submit=submit)
        url = f"/v1/requests/{made['id']}"
        before = await get(client, au, url)
        if_match = {**au.headers, "If-Match": f'"{before["version"]}"'}
        for changes, field in bad_request_fields(network, others):
            response = await client.patch(url, json=changes, headers=if_match)
            assert response.status_code == 422, (changes, response.text)
            assert field in field_errors(response), (changes, response.text)
        # the requesting office is not changed by PATCH
        response = await client.patch(url, json={"office_id": network.au_office["id"]}, headers=if_match)
        assert response.status_code == 422
        assert "office_id" in field_errors(response)
        # a PATCH that also asks for an illegal state changes none of its fields
        response = await client.patch(url, json={"title": "Renamed", "state": "completed"}, headers=if_match)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == PROBLEM
        broken = await client.patch(url, content=b'{"title": ', headers={**if_match, **JSON})
        assert broken.status_code == 400
        assert broken.headers["content-type"] == PROBLEM
        assert await get(client, au, url) == before


async def test_bad_responses_and_outcomes_are_refused_and_nothing_is_written(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    network: Network,
    owner_conn: asyncpg.Connection,
) -> None:
    made = await make_request(client, au, network)
    url = f"/v1/requests/{made['id']}/responses"
    eu_office = network.eu_office["id"]
    other_eu_office = await make_office(client, eu, "EU Brussels desk")
    own = await make_expert(client, eu, name="Eu Expert")
    foreign = await make_expert(client, igad, name="Igad Expert")
    start, end = made["period"]["start"], made["period"]["end"]
    for body, field in (
        ({"office_id": eu_office, "kind": "decline"}, "reason"),
        ({"office_id": eu_office, "kind": "decline", "reason": "  \n "}, "reason"),
        ({"office_id": eu_office, "kind": "decline", "reason": "busy", "experts": [own["id"]]}, "experts"),
        ({"office_id": eu_office, "kind": "maybe"}, "kind"),
        ({"office_id": eu_office}, "kind"),
        ({"kind": "offer"}, "office_id"),
        ({"office_id": other_eu_office["id"], "kind": "offer"}, "office_id"),  # an office not addressed
        ({"office_id": network.igad_office["id"], "kind": "offer"}, "office_id"),
        ({"office_id": UNKNOWN, "kind": "offer"}, "office_id"),
        ({"office_id": eu_office, "kind": "offer", "experts": [own["id"], UNKNOWN]}, "experts.1"),
        ({"office_id": eu_office, "kind": "offer", "experts": [foreign["id"]]}, "experts.0"),
        ({"office_id": eu_office, "kind": "offer", "period": {"start": end, "end": start}}, "period.end"),
        ({"office_id": eu_office, "kind": "offer", "note": "n" * 2001}, "note"),
        ({"office_id": eu_office, "kind": "decline", "reason": "r" * 2001}, "reason"),
        ({"office_id": eu_office, "kind": "offer", "price": 10}, "price"),
    ):
        response = await client.post(url, json=body, headers=eu.headers)
        assert response.status_code == 422, (body, response.text)
        assert field in field_errors(response), (body, response.text)
    broken = await client.post(url, content=b'{"kind": "offer", ', headers={**eu.headers, **JSON})
    assert broken.status_code == 400
    assert broken.headers["content-type"] == PROBLEM
    assert await count(owner_conn, "request_responses") == 0
    assert (await get(client, eu, url))["total"] == 0
    assert (await get(client, au, f"/v1/requests/{made['id']}"))["state"] == "submitted"

    # bad outcomes: the request stays open
    closing = await make_request(client, au, network)
    offer = await post(
        client,
        eu,
        f"/v1/requests/{closing['id']}/responses",
        {"office_id": network.eu_office["id"], "kind": "offer"},
    )
    await post(client, au, f"/v1/requests/{closing['id']}/responses/{offer['id']}/accept", status=200)
    request_url = f"/v1/requests/{closing['id']}"
    unclosed = await get(client, au, request_url)
    assert unclosed["state"] == "accepted"
    for outcome, field in (
        ({"delivered": False}, "reason"),
        ({"delivered": False, "reason": "   "}, "reason"),
        ({"delivered": True}, "modality"),
        ({"delivered": True, "modality": "telepathy"}, "modality"),
        ({"delivered": True, "modality": "remote", "note": "n" * 2001}, "note"),
        ({"delivered": False, "reason": "r" * 2001}, "reason"),
        ({"delivered": "maybe"}, "delivered"),
        ({"modality": "remote"}, "delivered"),
        ({"delivered": True, "modality": "remote", "rating": 5}, "rating"),
    ):
        response = await client.post(f"{request_url}/close", json=outcome, headers=au.headers)
        assert response.status_code == 422, (outcome, response.text)
        assert field in field_errors(response), (outcome, response.text)
    broken = await client.post(
        f"{request_url}/close", content=b'{"delivered": tru', headers={**au.headers, **JSON}
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"] == PROBLEM
    assert await get(client, au, request_url) == unclosed


async def test_bad_filters_are_a_problem_naming_the_parameter(client: AsyncTestClient, au: Caller) -> None:
    for params, field in (
        ({"process_id": UNKNOWN}, "process_id"),
        ({"process_id": "not-a-uuid"}, "process_id"),
        ({"role": "observer"}, "role"),
        ({"state": "paused"}, "state"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ):
        response = await client.get("/v1/requests", params=params, headers=au.headers)
        assert response.status_code == 422, (params, response.text)
        assert field_errors(response) == [field], (params, response.text)
