"""A requester learns that its request opened or joined an overlap case: the submit answer and the
request carry the case ids (and nothing of who else is in it); through a request nobody else learns
of a case, not even an addressed organisation that is a party to it."""

from __future__ import annotations

import json

from litestar.testing import AsyncTestClient

from tests.overlaps.conftest import World, ask, cases, get


async def test_the_requester_alone_sees_its_requests_cases(client: AsyncTestClient, world: World) -> None:
    n = world.network
    process = n.process["id"]
    a = await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], process)
    assert a["overlap_cases"] == []
    b = await ask(client, world.igad, n.igad_office["id"], [n.eu_office["id"]], process)  # opens the case
    (case,) = (await cases(client, world.igad))["items"]
    assert b["overlap_cases"] == [case["id"]]
    a_now = await get(client, world.au, f"/v1/requests/{a['id']}")
    assert a_now["overlap_cases"] == [case["id"]]
    assert '"igad"' not in json.dumps(a_now), "the requester learns there is a case, not who else is in it"
    assert [r["overlap_cases"] for r in (await get(client, world.au, "/v1/requests"))["items"]] == [
        [case["id"]]
    ]

    c = await ask(client, world.un, world.un_office["id"], [n.igad_office["id"]], process)  # joins it
    assert c["overlap_cases"] == [case["id"]]

    # the EU is addressed by both AU and IGAD and is a party to the case; IGAD is addressed by the UN
    for caller, request in ((world.eu, a), (world.eu, b), (world.igad, c)):
        seen = await get(client, caller, f"/v1/requests/{request['id']}")
        assert seen["overlap_cases"] is None
        assert case["id"] not in json.dumps(seen)
    for path in ("/v1/inbox", "/v1/requests?role=addressee"):
        page = await get(client, world.eu, path)
        assert [r["overlap_cases"] for r in page["items"]] == [None, None]
        assert case["id"] not in json.dumps(page)
    for caller, request in ((world.au, b), (world.un, a), (world.un, b), (world.igad, a)):
        response = await client.get(f"/v1/requests/{request['id']}", headers=caller.headers)
        assert response.status_code == 404, (caller.slug, response.text)
