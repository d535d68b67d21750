"""Detection and disclosure: overlapping requests open one case, its parties are told at once and
learn only what overlaps; nobody else learns anything."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from tests.overlaps.conftest import World, ask, cases, events, get, post, rows
from tests.requests.conftest import patch


async def _lists(client: AsyncTestClient, world: World) -> dict:
    """Everything the UN can list, with totals."""
    return {path: await get(client, world.un, path) for path in ("/v1/overlaps", "/v1/requests", "/v1/inbox")}


async def test_a_and_b_overlap_both_are_told_and_c_learns_nothing(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    n = world.network
    process = n.process["id"]
    before = await _lists(client, world)
    await ask(
        client,
        world.un,
        world.un_office["id"],
        [n.igad_office["id"]],
        process,
        period={"start": "2031-01-01", "end": "2031-02-01"},
    )  # same process, another year
    un_after_own = await _lists(client, world)
    a = await ask(
        client, world.au, n.au_office["id"], [n.eu_office["id"]], process, description="Secret AU plans"
    )
    assert (await cases(client, world.au))["total"] == 0, "one request alone is no overlap"
    start = date.today() + timedelta(days=60)
    b = await ask(
        client,
        world.igad,
        n.igad_office["id"],
        [n.eu_office["id"]],
        process,
        service_types=["process_design", "coaching"],
        themes=["gender_inclusion"],
        period={"start": start.isoformat(), "end": (start + timedelta(days=90)).isoformat()},
    )
    listed = {c.slug: await cases(client, c) for c in (world.au, world.igad, world.eu)}
    assert {slug: page["total"] for slug, page in listed.items()} == {"au": 1, "igad": 1, "eu": 1}
    case = listed["au"]["items"][0]
    assert case["status"] == "open"
    assert case["organisations"] == ["au", "eu", "igad"]
    assert case["process"]["id"] == process
    assert case["period"] == {"start": start.isoformat(), "end": a["period"]["end"]}
    assert case["service_types"] == ["process_design"]
    assert case["themes"] == []
    assert case["dimensions"] == ["process", "period", "service_types"]
    assert case["explanation"] == [
        {
            "members": [1, 2],
            "dimensions": ["process", "period", "service_types"],
            "period": case["period"],
            "service_types": ["process_design"],
            "themes": [],
        }
    ]
    members = {m["organisation"]: m for m in case["members"]}
    assert members["au"]["request_id"] == a["id"]
    assert members["igad"]["request_id"] is None
    assert members["igad"]["parties"] == ["eu", "igad"]
    assert not any(m["shared"] or m["description"] for m in case["members"])
    seen_by_igad = listed["igad"]["items"][0]
    assert {m["organisation"]: m["request_id"] for m in seen_by_igad["members"]} == {
        "au": None,
        "igad": b["id"],
    }
    assert "Secret" not in str(seen_by_igad)

    for slug in ("au", "eu", "igad"):
        told = await events(owner_conn, slug, "overlap.detected")
        assert len(told) == 1, slug
        assert told[0]["case_id"] == case["id"]
        assert told[0]["organisations"] == ["au", "eu", "igad"]
        assert told[0]["service_types"] == ["process_design"]
        assert "Secret" not in str(told[0])
        assert a["title"] not in str(told[0])
    queued = await rows(
        owner_conn, "SELECT count(*) AS n FROM outbox_messages WHERE event_type LIKE 'overlap.%'"
    )
    assert queued[0]["n"] == 3, "the parties and nobody else"
    assert await events(owner_conn, "un", "overlap.detected") == []

    assert await _lists(client, world) == un_after_own
    assert un_after_own["/v1/overlaps"] == before["/v1/overlaps"]
    for path in (f"/v1/overlaps/{case['id']}", f"/v1/overlaps/{case['id']}/messages"):
        assert (await client.get(path, headers=world.un.headers)).status_code == 404


async def test_a_third_overlapping_request_joins_the_case(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    n = world.network
    process = n.process["id"]
    await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], process)
    await ask(
        client, world.igad, n.igad_office["id"], [n.eu_office["id"]], process, service_types=["coaching"]
    )
    first = (await cases(client, world.au))["items"][0]
    assert first["dimensions"] == ["process", "period", "themes"]
    assert (await cases(client, world.un))["total"] == 0
    await ask(client, world.un, world.un_office["id"], [n.igad_office["id"]], process)
    listed = await cases(client, world.un)
    assert listed["total"] == 1
    assert (await cases(client, world.au))["total"] == 1
    joined = listed["items"][0]
    assert joined["id"] == first["id"]
    assert joined["organisations"] == ["au", "eu", "igad", "un"]
    assert [m["position"] for m in joined["members"]] == [1, 2, 3]
    assert sorted(p["members"] for p in joined["explanation"]) == [[1, 2], [1, 3], [2, 3]]
    for slug, times in (("au", 2), ("eu", 2), ("igad", 2), ("un", 1)):
        assert len(await events(owner_conn, slug, "overlap.detected")) == times, slug


async def test_a_request_on_a_merged_process_still_matches(client: AsyncTestClient, world: World) -> None:
    n = world.network
    duplicate = await post(
        client, world.igad, "/v1/processes", {"name": "CAR talks (IGAD's entry)", "countries": ["CF"]}
    )
    b = await ask(client, world.igad, n.igad_office["id"], [n.eu_office["id"]], duplicate["id"])
    merged = await client.post(
        f"/v1/processes/{duplicate['id']}/merge",
        json={"into": n.process["id"]},
        headers={**world.igad.headers, "If-Match": '"1"'},
    )
    assert merged.status_code == 200, merged.text
    await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], n.process["id"])
    case = (await cases(client, world.igad))["items"][0]
    assert case["process"]["id"] == n.process["id"]
    assert [m["request_id"] for m in case["members"] if m["organisation"] == "igad"] == [b["id"]]


async def test_no_match_without_a_shared_term_the_same_months_or_another_organisation(
    client: AsyncTestClient, world: World
) -> None:
    n = world.network
    process = n.process["id"]
    await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], process)
    await ask(client, world.au, n.au_office["id"], [n.igad_office["id"]], process)  # the same organisation
    await ask(
        client,
        world.igad,
        n.igad_office["id"],
        [n.eu_office["id"]],
        process,
        service_types=["coaching"],
        themes=["gender_inclusion"],
    )
    await ask(
        client,
        world.un,
        world.un_office["id"],
        [n.eu_office["id"]],
        process,
        period={"start": "2031-01-01", "end": "2031-02-01"},
    )
    await ask(client, world.eu, n.eu_office["id"], [n.igad_office["id"]], process, submit=False)  # a draft
    for caller in (world.au, world.eu, world.igad, world.un):
        assert (await cases(client, caller))["total"] == 0


async def test_a_change_of_period_is_checked_again(client: AsyncTestClient, world: World) -> None:
    n = world.network
    process = n.process["id"]
    await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], process)
    b = await ask(
        client,
        world.igad,
        n.igad_office["id"],
        [n.eu_office["id"]],
        process,
        period={"start": "2031-01-01", "end": "2031-02-01"},
    )
    assert (await cases(client, world.au))["total"] == 0
    await patch(
        client,
        world.igad,
        f"/v1/requests/{b['id']}",
        {"period": request_body_period()},
        **{"If-Match": f'"{b["version"]}"'},
    )
    assert (await cases(client, world.au))["total"] == 1


def request_body_period() -> dict:
    start = date.today() + timedelta(days=40)
    return {"start": start.isoformat(), "end": (start + timedelta(days=10)).isoformat()}


async def test_the_list_shows_each_case_as_it_is_shown_alone(client: AsyncTestClient, world: World) -> None:
    n = world.network
    other = await post(
        client, world.au, "/v1/processes", {"name": "Second track dialogue", "countries": ["SD"]}
    )
    for process in (n.process["id"], other["id"]):
        await ask(client, world.au, n.au_office["id"], [n.eu_office["id"]], process)
        await ask(client, world.igad, n.igad_office["id"], [n.eu_office["id"]], process)

    listed = await cases(client, world.au)
    assert listed["total"] == 2
    assert {item["process"]["id"] for item in listed["items"]} == {n.process["id"], other["id"]}
    for item in listed["items"]:
        assert item == await get(client, world.au, f"/v1/overlaps/{item['id']}")
        assert [m["organisation"] for m in item["members"]] == ["au", "igad"]
