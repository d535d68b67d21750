"""The inbox: requests addressed to the caller's offices, newest submission first, filtered by state
and office, in keyset pages; and the request list's own pages and filters."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.requests.conftest import Caller, Network, field_errors, get, make_office, make_request, patch, post


async def pages(
    client: AsyncTestClient, caller: Caller, path: str, limit: int, **params: str
) -> list[list[str]]:
    """Every page of a list, following ``next_cursor``; each page must say the same total."""
    found: list[list[str]] = []
    cursor = None
    total = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = await get(client, caller, path, **query)
        assert total in (None, page["total"])
        total = page["total"]
        found.append([r["id"] for r in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(found) < 10
    assert sum(len(p) for p in found) == total
    return found


async def test_inbox_is_newest_submission_first_filtered_and_paged(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    desk = await make_office(client, eu, "EU Brussels desk")
    eu_office, igad_office = network.eu_office["id"], network.igad_office["id"]
    first = await make_request(client, au, network, submit=False, title="First made")
    second = await make_request(
        client, au, network, submit=False, title="Second made", addressees=[eu_office, igad_office]
    )
    third = await make_request(client, au, network, submit=False, title="Third made", addressees=[desk["id"]])
    draft = await make_request(client, au, network, submit=False, title="Still a draft")
    elsewhere = await make_request(
        client, au, network, submit=False, title="IGAD only", addressees=[igad_office]
    )
    for made in (second, third, first, elsewhere):  # submitted in another order than made
        await post(client, au, f"/v1/requests/{made['id']}/submit", status=200)

    newest_first = [first["id"], third["id"], second["id"]]
    assert await pages(client, eu, "/v1/inbox", 2) == [newest_first[:2], newest_first[2:]]
    assert await pages(client, eu, "/v1/inbox", 200) == [newest_first]
    assert await pages(client, eu, "/v1/inbox", 1, office_id=desk["id"]) == [[third["id"]]]
    assert await pages(client, eu, "/v1/inbox", 1, office_id=eu_office) == [[first["id"]], [second["id"]]]
    assert await pages(client, igad, "/v1/inbox", 50) == [[elsewhere["id"], second["id"]]]
    assert await pages(client, au, "/v1/inbox", 50) == [[]]
    assert draft["id"] not in {i for p in await pages(client, eu, "/v1/requests", 50) for i in p}

    await patch(client, au, f"/v1/requests/{third['id']}", {"state": "on-hold"})
    assert await pages(client, eu, "/v1/inbox", 50, state="on-hold") == [[third["id"]]]
    assert await pages(client, eu, "/v1/inbox", 1, state="submitted") == [[first["id"]], [second["id"]]]
    assert await pages(client, eu, "/v1/inbox", 50, state="received") == [[]]
    items = (await get(client, eu, "/v1/inbox", office_id=desk["id"]))["items"]
    assert [(i["title"], i["state"], i["organisation"]) for i in items] == [("Third made", "on-hold", "au")]

    for params, field in (
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"office_id": "nope"}, "office_id"),
    ):
        response = await client.get("/v1/inbox", params=params, headers=eu.headers)
        assert response.status_code == 422, (params, response.text)
        assert field_errors(response) == [field], (params, response.text)

    # last: the state parameter is named as the caller sent it
    for path in ("/v1/inbox", "/v1/requests"):  # the parameter is named as the caller sent it
        response = await client.get(path, params={"state": "lost"}, headers=eu.headers)
        assert response.status_code == 422, response.text
        assert field_errors(response) == ["state"], (path, response.text)


async def test_the_request_list_is_paged_and_filtered_by_role_state_and_process(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    listed = [
        await make_request(client, au, network, submit=i % 2 == 0, title=f"Request {i}") for i in range(5)
    ]
    asked = await post(
        client,
        eu,
        "/v1/requests",
        {
            **{
                k: v
                for k, v in listed[0].items()
                if k in ("title", "service_types", "themes", "period", "mandate")
            },
            "process_id": network.process["id"],
            "office_id": network.eu_office["id"],
            "addressees": [network.au_office["id"]],
        },
    )
    await post(client, eu, f"/v1/requests/{asked['id']}/submit", status=200)
    ours = {r["id"] for r in listed}
    au_pages = await pages(client, au, "/v1/requests", 2)
    assert [len(p) for p in au_pages] == [2, 2, 2]
    assert {i for p in au_pages for i in p} == ours | {asked["id"]}
    assert {i for p in await pages(client, au, "/v1/requests", 50, role="requester") for i in p} == ours
    assert await pages(client, au, "/v1/requests", 50, role="addressee") == [[asked["id"]]]
    drafts = {listed[1]["id"], listed[3]["id"]}
    assert {i for p in await pages(client, au, "/v1/requests", 1, state="draft") for i in p} == drafts
    assert {i for p in await pages(client, eu, "/v1/requests", 50) for i in p} == {
        listed[0]["id"],
        listed[2]["id"],
        listed[4]["id"],
        asked["id"],
    }
    other = await post(client, au, "/v1/processes", {"name": "Another process", "countries": ["TD"]})
    assert await pages(client, au, "/v1/requests", 50, process_id=other["id"]) == [[]]
    bad = await client.get("/v1/requests", params={"role": "bystander"}, headers=au.headers)
    assert bad.status_code == 422
