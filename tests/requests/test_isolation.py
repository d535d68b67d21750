"""Who sees and changes a request: its requester, its addressees (less), the organisations a restricted
request is shared with (reading only), nobody else whatever their scopes; and row-level security alone
says the same."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from msnet.db.embedded import DatabaseUrls
from tests.helpers import MakeCaller, org_ids
from tests.requests.conftest import (
    PROBLEM,
    SCOPES,
    Caller,
    Network,
    get,
    make_request,
    post,
)

OUTCOME = {"delivered": True, "modality": "remote"}


async def attempts(
    client: AsyncTestClient, caller: Caller, request_id: str, response_id: str, network: Network
) -> dict[str, int]:
    """Every endpoint of one request, tried by ``caller``: the status of each."""
    url = f"/v1/requests/{request_id}"
    headers = caller.headers
    if_match = {**headers, "If-Match": '"1"'}  # any: the record is not the caller's to change
    office = network.eu_office["id"] if caller.slug == "eu" else network.igad_office["id"]
    return {
        "get": (await client.get(url, headers=headers)).status_code,
        "patch": (await client.patch(url, json={"title": "Taken over"}, headers=if_match)).status_code,
        "hold": (await client.patch(url, json={"state": "on-hold"}, headers=if_match)).status_code,
        "submit": (await client.post(f"{url}/submit", headers=headers)).status_code,
        "withdraw": (await client.post(f"{url}/withdraw", headers=headers)).status_code,
        "close": (await client.post(f"{url}/close", json=OUTCOME, headers=headers)).status_code,
        "matches": (await client.get(f"{url}/matches", headers=headers)).status_code,
        "responses": (await client.get(f"{url}/responses", headers=headers)).status_code,
        "accept": (await client.post(f"{url}/responses/{response_id}/accept", headers=headers)).status_code,
        "respond": (
            await client.post(
                f"{url}/responses",
                json={"office_id": office, "kind": "decline", "reason": "x"},
                headers=headers,
            )
        ).status_code,
    }


async def totals(client: AsyncTestClient, caller: Caller, **params: Any) -> tuple[int, int]:
    requests = await get(client, caller, "/v1/requests", **params)
    inbox = await get(client, caller, "/v1/inbox")
    assert requests["total"] == len(requests["items"])
    assert inbox["total"] == len(inbox["items"])
    return requests["total"], inbox["total"]


async def test_a_third_organisation_gets_404_everywhere_and_an_addressee_403_on_the_requesters_calls(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    made = await make_request(client, au, network)
    offer = await post(
        client,
        eu,
        f"/v1/requests/{made['id']}/responses",
        {"office_id": network.eu_office["id"], "kind": "offer"},
    )
    url = f"/v1/requests/{made['id']}"
    before = await get(client, au, url)

    third = await attempts(client, igad, made["id"], offer["id"], network)
    assert third == dict.fromkeys(third, 404)
    assert await totals(client, igad) == (0, 0)
    assert await totals(client, igad, process_id=network.process["id"]) == (0, 0)

    addressee = await attempts(client, eu, made["id"], offer["id"], network)
    assert addressee == {
        "get": 200,
        "patch": 403,
        "hold": 403,
        "submit": 403,
        "withdraw": 403,
        "close": 403,
        "matches": 403,
        "responses": 200,
        "accept": 403,
        "respond": 409,  # it has answered already
    }
    assert await totals(client, eu) == (1, 1)
    assert await get(client, au, url) == before
    assert (await get(client, au, f"{url}/responses"))["total"] == 1

    # with two addressees, each sees its own response and not the other's
    both = await make_request(
        client, au, network, addressees=[network.eu_office["id"], network.igad_office["id"]]
    )
    url = f"/v1/requests/{both['id']}/responses"
    offer = await post(
        client, eu, url, {"office_id": network.eu_office["id"], "kind": "offer", "note": "EU offer"}
    )
    decline = await post(
        client, igad, url, {"office_id": network.igad_office["id"], "kind": "decline", "reason": "busy"}
    )
    assert [r["id"] for r in (await get(client, eu, url))["items"]] == [offer["id"]]
    assert [r["id"] for r in (await get(client, igad, url))["items"]] == [decline["id"]]
    assert (await get(client, igad, url))["total"] == 1
    everything = await get(client, au, url)
    assert sorted(r["id"] for r in everything["items"]) == sorted([offer["id"], decline["id"]])
    assert everything["total"] == 2
    # a competitor cannot accept, nor find, the other's offer
    taken = await client.post(f"{url}/{offer['id']}/accept", headers=igad.headers)
    assert taken.status_code == 403


async def test_a_draft_is_the_requesters_alone_and_a_restricted_request_is_only_read_by_those_named(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    made = await make_request(
        client,
        au,
        network,
        submit=False,
        sharing="restricted",
        share_with=["igad"],
    )
    for caller in (eu, igad):
        tried = await attempts(client, caller, made["id"], made["id"], network)
        assert tried == dict.fromkeys(tried, 404), caller.slug
        assert await totals(client, caller) == (0, 0)
    assert await totals(client, au) == (1, 0)
    assert (await get(client, au, f"/v1/requests/{made['id']}"))["version"] == 1

    # once submitted, a restricted request is read by those it is shared with, changed by none
    shared = await make_request(client, au, network, sharing="restricted", share_with=["igad"])
    assert shared["share_with"] == ["igad"]
    shared_url = f"/v1/requests/{shared['id']}"
    seen = await get(client, igad, shared_url)
    assert seen["id"] == shared["id"]
    assert await totals(client, igad) == (1, 0)  # listed, but not in its inbox: it was not asked
    tried = await attempts(client, igad, shared["id"], shared["id"], network)
    assert tried == {
        "get": 200,
        "patch": 403,
        "hold": 403,
        "submit": 403,
        "withdraw": 403,
        "close": 403,
        "matches": 403,
        "responses": 200,
        "accept": 403,
        "respond": 403,
    }
    assert (await get(client, au, shared_url))["version"] == shared["version"]


async def test_tokens_and_scopes(
    client: AsyncTestClient, au: Caller, network: Network, make_caller: MakeCaller
) -> None:
    made = await make_request(client, au, network, submit=False)
    url = f"/v1/requests/{made['id']}"
    body = {"office_id": network.au_office["id"], "kind": "offer"}
    calls = [
        ("GET", "/v1/requests", None),
        ("POST", "/v1/requests", made),
        ("GET", url, None),
        ("PATCH", url, {"title": "Renamed"}),
        ("POST", f"{url}/submit", None),
        ("POST", f"{url}/withdraw", None),
        ("POST", f"{url}/close", OUTCOME),
        ("GET", f"{url}/matches", None),
        ("GET", f"{url}/responses", None),
        ("POST", f"{url}/responses", body),
        ("POST", f"{url}/responses/{made['id']}/accept", None),
        ("GET", "/v1/inbox", None),
    ]
    reader = await make_caller("au", ["requests:read"])
    writer_only = await make_caller("au", [s for s in SCOPES if s != "requests:read"])
    no_requests = await make_caller("au", [s for s in SCOPES if s not in ("requests:read", "requests:write")])
    for method, path, json in calls:
        anonymous = await client.request(method, path, json=json)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["content-type"] == PROBLEM
        denied = await client.request(method, path, json=json, headers=no_requests.headers)
        assert denied.status_code == 403, (method, path, denied.text)
        assert denied.headers["content-type"] == PROBLEM
        if method == "GET":
            assert (await client.request(method, path, headers=reader.headers)).status_code == 200, path
            read_denied = await client.request(method, path, headers=writer_only.headers)
            assert read_denied.status_code == 403, (method, path)
        else:
            write_denied = await client.request(method, path, json=json, headers=reader.headers)
            assert write_denied.status_code == 403, (method, path, write_denied.text)
    assert (await get(client, au, "/v1/requests"))["total"] == 1
    assert (await get(client, au, url))["version"] == 1


async def test_row_level_security_alone_hides_another_organisations_request_and_response(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    network: Network,
    db_urls: DatabaseUrls,
) -> None:
    draft = await make_request(client, au, network, submit=False)
    only_eu = await make_request(client, au, network)
    both = await make_request(
        client, au, network, addressees=[network.eu_office["id"], network.igad_office["id"]]
    )
    url = f"/v1/requests/{both['id']}/responses"
    offer = await post(client, eu, url, {"office_id": network.eu_office["id"], "kind": "offer"})
    decline = await post(
        client, igad, url, {"office_id": network.igad_office["id"], "kind": "decline", "reason": "no"}
    )

    conn = await asyncpg.connect(db_urls.app)  # the service's own role: no owner, no BYPASSRLS
    try:
        orgs = await org_ids(conn)

        async def seen(slug: str | None) -> tuple[set[str], set[str], set[str]]:
            async with conn.transaction():
                if slug:
                    await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs[slug]))
                requests = {str(r["id"]) for r in await conn.fetch("SELECT id FROM requests")}
                responses = {str(r["id"]) for r in await conn.fetch("SELECT id FROM request_responses")}
                history = {
                    str(r["request_id"]) for r in await conn.fetch("SELECT request_id FROM request_events")
                }
            return requests, responses, history

        async def changed(slug: str, table: str, record_id: str) -> str:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs[slug]))
                column = "title" if table == "requests" else "note"
                return await conn.execute(
                    f"UPDATE {table} SET {column} = 'Taken over' WHERE id = $1", record_id
                )
            finally:
                await transaction.rollback()

        mine = {draft["id"], only_eu["id"], both["id"]}
        assert await seen("au") == (mine, {offer["id"], decline["id"]}, mine)
        assert await seen("eu") == ({only_eu["id"], both["id"]}, {offer["id"]}, {only_eu["id"], both["id"]})
        assert await seen("igad") == ({both["id"]}, {decline["id"]}, {both["id"]})
        assert await seen(None) == (set(), set(), set())
        # the policies that let the parties write do not let anyone else
        assert await changed("au", "requests", draft["id"]) == "UPDATE 1"  # (the control)
        assert await changed("eu", "requests", draft["id"]) == "UPDATE 0"
        assert await changed("igad", "requests", only_eu["id"]) == "UPDATE 0"
        assert await changed("igad", "request_responses", offer["id"]) == "UPDATE 0"
        assert await changed("eu", "request_responses", decline["id"]) == "UPDATE 0"
    finally:
        await conn.close()
