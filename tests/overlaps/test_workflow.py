"""The case workflow: sharing, messages, holding, a resolution every party agrees to; bad input;
isolation of every endpoint; concurrent submissions; the burst limit."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from msnet.app import create_app
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER
from tests.helpers import MakeCaller, new_caller
from tests.overlaps.conftest import World, ask, cases, events, get, post, request_body, rows
from tests.requests.conftest import SCOPES, field_errors, patch


async def _case(client: AsyncTestClient, world: World) -> tuple[dict, dict, dict]:
    """AU and IGAD ask the EU for the same thing: one open case (parties AU, EU, IGAD)."""
    n = world.network
    a = await ask(
        client, world.au, n.au_office["id"], [n.eu_office["id"]], n.process["id"], description="AU plan"
    )
    b = await ask(client, world.igad, n.igad_office["id"], [n.eu_office["id"]], n.process["id"])
    return (await cases(client, world.au))["items"][0], a, b


async def test_a_resolution_needs_every_party(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    case, _, _ = await _case(client, world)
    url = f"/v1/overlaps/{case['id']}/resolution"
    lead = world.network.au_office["id"]
    proposed = await post(client, world.au, url, {"kind": "coordinate", "lead_office_id": lead})  # 201: made
    proposal = proposed["proposal"]
    assert proposed["status"] == "open"
    assert proposal["agreed_by"] == ["au"]
    assert proposal["awaiting"] == ["eu", "igad"]
    assert (
        await client.post(url, json={"agree": proposal["id"]}, headers=world.un.headers)
    ).status_code == 404
    after_eu = await post(client, world.eu, url, {"agree": proposal["id"]}, status=200)
    assert after_eu["status"] == "open"
    assert after_eu["proposal"]["awaiting"] == ["igad"]
    assert await events(owner_conn, "au", "overlap.resolved") == []
    done = await post(client, world.igad, url, {"agree": proposal["id"]}, status=200)
    assert done["status"] == "resolved"
    assert done["proposal"] is None
    assert done["resolution"]["kind"] == "coordinate"
    assert done["resolution"]["lead_office_id"] == lead
    assert done["resolution"]["agreed_by"] == ["au", "eu", "igad"]
    for slug in ("au", "eu", "igad"):
        told = await events(owner_conn, slug, "overlap.resolved")
        assert [t["resolution"]["kind"] for t in told] == ["coordinate"], slug
    assert await events(owner_conn, "un", "overlap.resolved") == []
    again = await client.post(url, json={"kind": "merge"}, headers=world.au.headers)
    assert again.status_code == 409
    audited = await rows(
        owner_conn, "SELECT action FROM audit_log WHERE action LIKE 'overlap.%' ORDER BY seq"
    )
    assert [r["action"] for r in audited].count("overlap.agree") == 2


async def test_a_newer_proposal_supersedes_and_withdraw_cancels_the_named_request(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    case, a, _ = await _case(client, world)
    url = f"/v1/overlaps/{case['id']}/resolution"
    first = (await post(client, world.igad, url, {"kind": "merge"}))["proposal"]
    au_member = next(m["position"] for m in case["members"] if m["organisation"] == "au")
    second = (await post(client, world.au, url, {"kind": "withdraw", "member": au_member}))["proposal"]
    stale = await client.post(url, json={"agree": first["id"]}, headers=world.eu.headers)
    assert stale.status_code == 409
    await post(client, world.au, url, {"agree": second["id"]}, status=200)  # agreeing twice changes nothing
    await post(client, world.igad, url, {"agree": second["id"]}, status=200)
    done = await post(client, world.eu, url, {"agree": second["id"]}, status=200)  # the last is not the owner
    assert done["status"] == "resolved"
    withdrawn = await get(client, world.au, f"/v1/requests/{a['id']}")
    assert withdrawn["state"] == "cancelled"
    assert withdrawn["history"][-1]["to_state"] == "cancelled"
    changed = await events(owner_conn, "eu", "request.state_changed")
    assert {"request_id": a["id"], "from": "submitted", "to": "cancelled"} in changed


async def test_not_an_overlap_is_remembered(client: AsyncTestClient, world: World) -> None:
    case, _, b = await _case(client, world)
    url = f"/v1/overlaps/{case['id']}/resolution"
    proposal = (await post(client, world.au, url, {"kind": "not_an_overlap"}))["proposal"]
    for caller in (world.eu, world.igad):
        await post(client, caller, url, {"agree": proposal["id"]}, status=200)
    current = await get(client, world.igad, f"/v1/requests/{b['id']}")
    body = {"themes": ["ceasefire_security", "gender_inclusion"]}
    await patch(
        client, world.igad, f"/v1/requests/{b['id']}", body, **{"If-Match": f'"{current["version"]}"'}
    )
    listed = await cases(client, world.au)
    assert listed["total"] == 1
    assert listed["items"][0]["status"] == "resolved"


async def test_sharing_messages_and_holding(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    case, a, b = await _case(client, world)
    base = f"/v1/overlaps/{case['id']}"
    shared = await post(client, world.au, f"{base}/share", {"request_id": a["id"]}, status=200)
    seen = await get(client, world.igad, base)
    assert [m["description"] for m in seen["members"]] == ["AU plan", None]
    assert shared["members"][0]["shared"] is True
    wrong = await client.post(f"{base}/share", json={"request_id": b["id"]}, headers=world.au.headers)
    assert wrong.status_code == 422
    assert field_errors(wrong) == ["request_id"]
    await post(client, world.au, f"{base}/share", {"request_id": a["id"], "shared": False}, status=200)
    assert [m["description"] for m in (await get(client, world.igad, base))["members"]] == [None, None]

    message = await post(client, world.igad, f"{base}/messages", {"body": "Shall we talk on Monday?"})
    page = await get(client, world.eu, f"{base}/messages")
    assert page["total"] == 1
    assert page["items"][0]["organisation"] == "igad"
    assert page["items"][0]["id"] == message["id"]
    for slug in ("au", "eu", "igad"):
        assert [e["message_id"] for e in await events(owner_conn, slug, "overlap.message")] == [message["id"]]
    assert await events(owner_conn, "un", "overlap.message") == []

    held = await patch(
        client, world.au, f"/v1/requests/{a['id']}", {"state": "on-hold"}, **{"If-Match": f'"{a["version"]}"'}
    )
    assert held["state"] == "on-hold"
    assert (await get(client, world.au, base))["status"] == "open"


async def test_bad_input_names_the_field_and_writes_nothing(
    client: AsyncTestClient, world: World, owner_conn: asyncpg.Connection
) -> None:
    case, _, _ = await _case(client, world)
    base = f"/v1/overlaps/{case['id']}"
    bad = {
        "resolution": [
            ({"kind": "dissolve"}, "kind"),
            ({}, "kind"),
            ({"kind": "coordinate"}, "lead_office_id"),
            ({"kind": "coordinate", "lead_office_id": world.un_office["id"]}, "lead_office_id"),
            ({"kind": "complementary"}, "note"),
            ({"kind": "withdraw"}, "member"),
            ({"kind": "withdraw", "member": 9}, "member"),
            ({"kind": "merge", "member": 1}, "member"),
            ({"agree": str(uuid.uuid4())}, "agree"),
            ({"kind": "merge", "colour": "red"}, "colour"),
        ],
        "messages": [({"body": ""}, "body"), ({"body": " "}, "body"), ({}, "body")],
        "share": [({"request_id": "nope"}, "request_id"), ({"request_id": str(uuid.uuid4())}, "request_id")],
    }
    for sub, attempts in bad.items():
        for body, field in attempts:
            response = await client.post(f"{base}/{sub}", json=body, headers=world.au.headers)
            assert response.status_code == 422, (sub, body, response.text)
            assert field_errors(response) == [field], (sub, body)
    for table in ("overlap_proposals", "overlap_messages"):
        assert (await rows(owner_conn, f"SELECT count(*) AS n FROM {table}"))[0]["n"] == 0
    assert (await get(client, world.igad, base))["members"][0]["shared"] is False


async def test_every_endpoint_is_closed_to_non_parties_and_guarded(
    client: AsyncTestClient, world: World, make_caller: MakeCaller
) -> None:
    case, a, _ = await _case(client, world)
    base = f"/v1/overlaps/{case['id']}"
    before = {p: await get(client, world.un, p) for p in ("/v1/overlaps", "/v1/requests", "/v1/inbox")}
    calls = [
        ("GET", base, None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"body": "hello"}),
        ("POST", f"{base}/share", {"request_id": a["id"]}),
        ("POST", f"{base}/resolution", {"kind": "merge"}),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=world.un.headers)
        assert response.status_code == 404, (method, path)
        assert (await client.request(method, path, json=body)).status_code == 401, (method, path)
    assert {p: await get(client, world.un, p) for p in before} == before
    reader = await make_caller("au", ["requests:read"])
    nobody = await make_caller("au", ["directory:read"])
    for method, path, body in calls:
        caller = nobody if method == "GET" else reader
        response = await client.request(method, path, json=body, headers=caller.headers)
        assert response.status_code == 403, (method, path)
    assert (await client.get("/v1/overlaps", headers=nobody.headers)).status_code == 403
    assert (await client.get("/v1/overlaps")).status_code == 401


async def test_concurrent_overlapping_submissions_open_exactly_one_case(
    live_server: str, world: World, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    """Over real HTTP (the test client runs one request at a time): four organisations submit
    overlapping requests at once."""
    n = world.network
    askers = [
        ("au", n.au_office["id"], n.eu_office["id"]),
        ("igad", n.igad_office["id"], n.eu_office["id"]),
        ("un", world.un_office["id"], n.eu_office["id"]),
        ("eu", n.eu_office["id"], n.igad_office["id"]),
    ]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        drafts = []
        for slug, office, addressee in askers:
            caller = await new_caller(http, settings, slug, SCOPES)
            made = await http.post(
                "/v1/requests",
                json=request_body(n.process["id"], office, addressees=[addressee]),
                headers=caller.headers,
            )
            assert made.status_code == 201, made.text
            drafts.append((caller, made.json()["id"]))
        submitted = await asyncio.gather(
            *(http.post(f"/v1/requests/{rid}/submit", headers=caller.headers) for caller, rid in drafts)
        )
    assert [r.status_code for r in submitted] == [200] * 4
    opened = await rows(owner_conn, "SELECT count(*) AS n FROM overlap_cases")
    members = await rows(owner_conn, "SELECT count(*) AS n FROM overlap_members")
    assert opened[0]["n"] == 1
    assert members[0]["n"] == 4


@pytest.mark.parametrize("limit", [Settings.request_burst_limit, 3])  # the default, and a node's own
async def test_bursts_of_submit_and_withdraw_are_refused_and_audited(
    settings: Settings, world: World, owner_conn: asyncpg.Connection, limit: int
) -> None:
    async with AsyncTestClient(
        create_app(replace(settings, request_burst_limit=limit)), TEST_ISSUER
    ) as client:
        for _ in range(limit):
            response = await client.post(f"/v1/requests/{uuid.uuid4()}/withdraw", headers=world.igad.headers)
            assert response.status_code == 404
        refused = await client.post(f"/v1/requests/{uuid.uuid4()}/submit", headers=world.igad.headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert f"more than {limit} submissions" in refused.json()["detail"]
        other = await client.post(f"/v1/requests/{uuid.uuid4()}/withdraw", headers=world.au.headers)
        assert other.status_code == 404, "another client is not held back"
    audited = await rows(owner_conn, "SELECT outcome FROM audit_log WHERE action = 'request.rate_limited'")
    assert [r["outcome"] for r in audited] == ["denied"]
