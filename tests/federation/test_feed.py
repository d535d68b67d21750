"""The change feed over real HTTP between live nodes (issue #20 point 3): only peer nodes read it,
each reads what its organisations may see and nothing else, every item signed by the origin, a bad
cursor a problem naming it, an unknown one 410."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from msnet.federation.client import PeerClient
from tests.federation.conftest import Node, peer_both
from tests.helpers import add_client, bearer
from tests.roster.conftest import expert_body

pytestmark = pytest.mark.xdist_group("tests/federation/test_feed.py")  # the module's nodes, made once

CHANGES = "/federation/v1/changes"
SCOPES = ["directory:read", "directory:write", "roster:read", "roster:write"]


@pytest.fixture(scope="module")
def peered(nodes: list[Node]) -> list[Node]:
    """un peered with au and with eu; au and eu not peered with each other."""
    un, au, eu = nodes

    async def setup() -> None:
        await peer_both(un, au)
        await peer_both(un, eu)

    asyncio.run(setup())
    return nodes


async def org_headers(node: Node, slug: str, scopes: list[str] = SCOPES) -> dict[str, str]:
    created = await add_client(node.settings, slug, scopes)
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client_id, created.client_secret),
        )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def share(node: Node, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def settled(node: Node) -> None:
    """Until every transaction begun before now has ended: the feed reads below the oldest one still
    running in the whole cluster (other tests' too)."""
    rows = await node.owner("SELECT pg_current_xact_id()::text::bigint AS now")
    for _ in range(600):
        horizon = await node.owner("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS h")
        if horizon[0]["h"] > rows[0]["now"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction in the cluster has been running for 30 s")


def payload(item: str) -> dict[str, Any]:
    body = item.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


async def read_all(reader: Node, origin: Node, cursor: str | None = None) -> tuple[list[str], str]:
    """Every item of ``origin``'s feed for ``reader`` from ``cursor`` on, and the last cursor."""
    await settled(origin)
    items: list[str] = []
    async with PeerClient(reader.settings, await reader.key_ring(), origin.issuer) as client:
        while True:
            response = await client.get(CHANGES, {"cursor": cursor} if cursor else {})
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["next_cursor"]
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["more"]:
                return items, cursor


async def test_only_peer_nodes_read_the_feed_or_poke(peered: list[Node]) -> None:
    un, au, _ = peered
    own = await org_headers(un, "un")
    async with httpx.AsyncClient(base_url=un.issuer) as http:
        for method, path in (("GET", CHANGES), ("POST", "/federation/v1/poke")):
            anonymous = await http.request(method, path)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            organisation = await http.request(method, path, headers=own)
            assert organisation.status_code == 403, organisation.text
    async with PeerClient(au.settings, await au.key_ring(), un.issuer) as client:
        assert (await client.get(CHANGES)).status_code == 200
        assert (await client.post("/federation/v1/poke")).status_code == 202


async def test_each_peer_reads_what_its_organisations_may_see_and_nothing_else(peered: list[Node]) -> None:
    un, au, eu = peered
    headers = await org_headers(un, "un")
    made = {
        name: await share(
            un, headers, "/v1/offices", {"name": name, "sharing": sharing, "share_with": share_with}
        )
        for name, sharing, share_with in [
            ("network", "network", []),
            ("private", "private", []),
            ("for au", "restricted", ["au-2"]),
            ("for eu", "restricted", ["eu"]),
            ("for both", "restricted", ["au", "eu", "un-2"]),
        ]
    }
    expert = await share(
        un,
        headers,
        "/v1/experts",
        expert_body(
            name="Fatou Sow", sharing="network", contact={"email": "fatou@example.org", "phone": "+221 1"}
        ),
    )
    ids = {name: record["id"] for name, record in made.items()}
    async with httpx.AsyncClient() as http:
        keys = KeySet.import_key_set((await http.get(un.issuer + "/.well-known/jwks.json")).json())

    for reader, sees, slugs in (
        (au, {"network", "for au", "for both"}, {"for au": ["au-2"], "for both": ["au"]}),
        (eu, {"network", "for eu", "for both"}, {"for eu": ["eu"], "for both": ["eu"]}),
    ):
        items, _ = await read_all(reader, un)
        sent = [payload(i) for i in items]
        for item in items:  # each signed by the origin
            assert json.loads(jws.deserialize_compact(item, keys).payload)["origin"] == un.issuer
        offices = {p["id"]: p for p in sent if p["kind"] == "office"}
        assert {name for name, i in ids.items() if i in offices} == sees
        assert all(not p.get("tombstone") for p in offices.values())
        for name, share_with in slugs.items():
            assert offices[ids[name]]["share_with"] == share_with  # never who else it is shared with
        experts = [p for p in sent if p["kind"] == "expert" and p["id"] == expert["id"]]
        assert len(experts) == 1
        assert "fatou@example.org" not in json.dumps(sent)
        assert "+221 1" not in json.dumps(sent)
        assert {p["body"]["slug"] for p in sent if p["kind"] == "organisation"} == {"un", "un-2"}
        assert {p["origin"] for p in sent} == {un.issuer}


async def test_a_narrowed_record_reaches_the_peers_that_saw_it_as_a_tombstone(peered: list[Node]) -> None:
    un, au, eu = peered
    headers = await org_headers(un, "un")
    office = await share(un, headers, "/v1/offices", {"name": "narrowed later", "sharing": "network"})
    _, au_cursor = await read_all(au, un)
    _, eu_cursor = await read_all(eu, un)
    async with httpx.AsyncClient(base_url=un.issuer) as http:
        response = await http.patch(
            f"/v1/offices/{office['id']}",
            json={"sharing": "restricted", "share_with": ["eu"]},
            headers={**headers, "If-Match": f'"{office["version"]}"'},
        )
    assert response.status_code == 200, response.text
    au_items, _ = await read_all(au, un, au_cursor)
    [tombstone] = [payload(i) for i in au_items if payload(i)["id"] == office["id"]]
    un_id = (await un.owner("SELECT id::text FROM organisations WHERE slug = 'un'"))[0]["id"]
    assert {k: v for k, v in tombstone.items() if k != "updated_at"} == {
        "id": office["id"],
        "kind": "office",
        "origin": un.issuer,
        "organisation": un_id,
        "version": office["version"] + 1,
        "sharing": "private",
        "share_with": [],
        "tombstone": True,
    }
    eu_items, _ = await read_all(eu, un, eu_cursor)
    [for_eu] = [payload(i) for i in eu_items if payload(i)["id"] == office["id"]]
    assert (for_eu["sharing"], for_eu["share_with"], for_eu["version"]) == (
        "restricted",
        ["eu"],
        office["version"] + 1,
    )


async def test_a_bad_cursor_is_a_problem_and_an_unknown_one_gone(peered: list[Node]) -> None:
    un, au, eu = peered
    _, eu_cursor = await read_all(eu, un)
    _, au_cursor = await read_all(au, un)
    txid, seq = au_cursor.split(".")[1:3]
    async with PeerClient(au.settings, await au.key_ring(), un.issuer) as client:
        for malformed in ("nonsense", "c1.1.2", "c9.1.2.abc", "c1.x.2.abc"):
            response = await client.get(CHANGES, {"cursor": malformed})
            assert response.status_code == 422, response.text
            assert [e["field"] for e in response.json()["errors"]] == ["cursor"]
        for unknown in (
            eu_cursor,
            f"c1.{txid}.{seq}.AAAAAAAAAAAAAAAAAAAAAA",
            f"c1.{int(txid) + 10**9}.1.abc",
        ):
            response = await client.get(CHANGES, {"cursor": unknown})
            assert response.status_code == 410, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        for limit in ("0", "501", "x"):
            response = await client.get(CHANGES, {"limit": limit})
            assert response.status_code in (400, 422), response.text
        assert (await client.get(CHANGES, {"cursor": au_cursor})).status_code == 200
