"""Peering two live nodes over real HTTP, as their operators would (issue #20 points 2 and 6): the
signed node document, `msnet node fingerprint`, `msnet peer add/list/status/remove`, the node's OAuth
client of its peer (scope `federation`), and key rotation with and without an overlap."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from msnet.db.engine import make_engine, make_sessionmaker, set_organisation
from msnet.directory.models import Office
from msnet.errors import Conflict, InvalidInput, NotFound
from msnet.federation import service
from msnet.federation.client import PeerClient, PeerError
from msnet.federation.models import Peer
from msnet.jobs import peering
from msnet.jobs.runner import Context
from msnet.middleware import Metrics
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.organisations.schemas import OrganisationCreate
from tests.federation.conftest import Node, node_document, peer, peer_both
from tests.helpers import add_client, bearer, token_for

pytestmark = pytest.mark.xdist_group("tests/federation/test_peering.py")  # the module's nodes, made once


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638, computed here from the published JWKS: the members e, kty, n in order, no spaces."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return "SHA256:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def published_fingerprints(node: Node) -> set[str]:
    keys = httpx.get(node.issuer + "/.well-known/jwks.json").json()["keys"]
    return {thumbprint(k) for k in keys}


async def registry(node: Node) -> dict[str, Any]:
    """The organisations in the node's public registry, by slug."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(node.issuer + "/v1/organisations", params={"limit": 200})
    return {o["slug"]: o for o in answer.json()["items"]}


async def stored_peer(node: Node, issuer: str) -> Peer | None:
    async with node.session() as session:
        return await session.scalar(select(Peer).where(Peer.issuer == issuer))


def test_the_node_document_is_public_and_signed_by_the_key_the_operator_hands_over(
    nodes: list[Node],
) -> None:
    un = nodes[0]
    printed = un.cli("node", "fingerprint")
    assert printed.returncode == 0, printed.stderr
    assert {printed.stdout.strip()} == published_fingerprints(un)
    response = httpx.get(un.issuer + "/.well-known/msnet-node")  # no token
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jose+json")
    document = json.loads(response.text)
    payload = json.loads(base64.urlsafe_b64decode(document["payload"] + "=="))
    assert payload["issuer"] == un.issuer
    assert {o["slug"] for o in payload["organisations"]} == {"un", "un-2"}
    assert {thumbprint(k) for k in payload["jwks"]["keys"]} == published_fingerprints(un)
    assert len(document["signatures"]) == 1


async def test_two_nodes_peer_as_their_operators_would(nodes: list[Node]) -> None:
    un, au = nodes[0], nodes[1]
    au_print = au.cli("node", "fingerprint").stdout.strip()  # handed over out of band
    added = un.cli("peer", "add", au.issuer + "/", "--fingerprint", au_print)
    assert added.returncode == 0, added.stderr
    assert f"peered with {au.issuer} (active): organisations au, au-2" in added.stdout
    await peer(au, un)  # au's operator does the same with un's fingerprint
    listed = un.cli("peer", "list")
    assert f"{au.issuer}  active  au, au-2" in listed.stdout.splitlines()
    status = un.cli("peer", "status", "--json")
    assert status.returncode == 0, status.stderr
    (row,) = [s for s in json.loads(status.stdout) if s["issuer"] == au.issuer]
    assert row["state"] == "active"
    assert row["fingerprints"] == [au_print]
    assert row["organisations"] == ["au", "au-2"]
    assert row["last_sync_at"] is None
    assert row["lag_seconds"] is None
    assert row["failures"] == 0
    table = un.cli("peer", "status").stdout.splitlines()
    assert table[0].split() == ["ISSUER", "STATE", "LAST", "SYNC", "LAG", "FAILURES", "LAST", "ERROR"]
    (line,) = [line for line in table if line.startswith(au.issuer)]
    assert line.split() == [au.issuer, "active", "never", "-", "0", "-"]
    # the organisations homed on au are in un's registry, with the same ids, homed on au
    au_orgs, un_orgs = await registry(au), await registry(un)
    assert {s: un_orgs[s]["id"] for s in ("au", "au-2")} == {s: au_orgs[s]["id"] for s in ("au", "au-2")}
    assert un_orgs["au"]["origin"] == au.issuer


async def test_a_wrong_fingerprint_is_refused_and_nothing_is_recorded(nodes: list[Node]) -> None:
    un, au, eu = nodes
    wrong = await au.fingerprint()  # a real fingerprint, of another node
    refused = eu.cli("peer", "add", un.issuer, "--fingerprint", wrong)
    assert refused.returncode != 0
    assert f"not by {wrong}" in refused.stderr
    assert "check the fingerprint" in refused.stderr
    assert await stored_peer(eu, un.issuer) is None
    before = await stored_peer(un, eu.issuer)
    with pytest.raises(Conflict):
        async with un.session() as session:
            await service.add_peer(session, eu.issuer, "SHA256:" + "A" * 43, un.issuer)
    after = await stored_peer(un, eu.issuer)
    assert (after.trusted_thumbprints if after else None) == (before.trusted_thumbprints if before else None)
    for url in ("ftp://127.0.0.1", "127.0.0.1:8000", un.issuer):  # not a URL of a node; un itself
        with pytest.raises(InvalidInput) as refused_url:
            async with un.session() as session:
                await service.add_peer(session, url, wrong, un.issuer)
        assert [e["field"] for e in refused_url.value.extra["errors"]] == ["url"]


async def owner_rows(node: Node, org_id: Any, query: str, *params: Any) -> list[Any]:
    """``query`` as the schema owner, acting for ``org_id`` (the owner is under forced row-level
    security too)."""
    conn = await asyncpg.connect(node.admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org_id))
            return await conn.fetch(query, *params)
    finally:
        await conn.close()


CHANGES = "/federation/v1/changes"


async def test_a_peers_node_token_opens_the_federation_endpoints_only(nodes: list[Node]) -> None:
    un, au = nodes[0], nodes[1]
    await peer(au, un)
    async with PeerClient(un.settings, await un.key_ring(), au.issuer) as calls:
        token = await calls.token()
        answered = await calls.get(CHANGES)
        assert answered.status_code == 200, answered.text
        assert answered.json()["next_cursor"]
        headers = {"Authorization": f"Bearer {token}"}
        write = await calls.http.post(
            "/v1/offices",
            json={"name": "Not allowed", "sharing": "network"},
            headers=headers,
        )
        assert write.status_code == 403, write.text
        read = await calls.http.get("/v1/experts", headers=headers)
        assert read.status_code == 403, read.text
    async with httpx.AsyncClient(base_url=au.issuer) as http:
        assert (await http.get(CHANGES)).status_code == 401
        forged = await http.get(CHANGES, headers={"Authorization": "Bearer not.a.token"})
        assert forged.status_code == 401
        admin = await add_client(au.settings, "au", ["org:admin", "directory:read"])
        own = bearer(await token_for(http, admin))
        refused = await http.get(CHANGES, headers=own)
        assert refused.status_code == 403, refused.text


async def test_an_organisation_client_can_neither_hold_nor_ask_for_the_federation_scope(
    nodes: list[Node],
) -> None:
    au = nodes[1]
    async with httpx.AsyncClient(base_url=au.issuer) as http:
        admin = await add_client(au.settings, "au", ["org:admin"])
        headers = bearer(await token_for(http, admin))
        registered = await http.post(
            "/v1/organisations/au/clients", json={"name": "sneaky", "scopes": ["federation"]}, headers=headers
        )
        assert registered.status_code == 422, registered.text
        assert [e["field"] for e in registered.json()["errors"]] == ["scopes.0"]
        asked = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "federation"},
            auth=(admin.client_id, admin.client_secret),
        )
        assert asked.status_code == 400, asked.text
        assert asked.json()["error"] == "invalid_scope"


async def test_a_node_document_with_a_bad_signature_is_ignored_and_the_last_good_one_kept(
    nodes: list[Node],
) -> None:
    un, au = nodes[0], nodes[1]
    await peer(un, au)
    good = await stored_peer(un, au.issuer)
    assert good is not None
    genuine = json.loads((await node_document(au)).text)
    claims = json.loads(base64.urlsafe_b64decode(genuine["payload"] + "=="))
    claims["organisations"].append({"id": str(uuid.uuid4()), "slug": "intruder", "name": "Intruder"})
    altered = {
        **genuine,
        "payload": base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="),
    }

    def answer(request: httpx.Request) -> httpx.Response:  # the network edge: au, its document altered
        return httpx.Response(200, json=altered)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http, un.session() as session:
        peer_row = await session.scalar(select(Peer).where(Peer.issuer == au.issuer))
        assert peer_row is not None
        assert await service.refresh_peer(session, peer_row, http) is False
    kept = await stored_peer(un, au.issuer)
    assert kept is not None
    assert (kept.state, kept.node_document, kept.jwks) == ("active", good.node_document, good.jwks)
    assert "intruder" not in await registry(un)


async def test_a_slug_claimed_by_two_nodes_is_refused_and_reported(nodes: list[Node]) -> None:
    un, au, eu = nodes
    await peer(un, au)  # au-2 is homed on au, as un knows it
    async with eu.session() as session:  # eu, which does not peer with au, claims au-2 too
        await organisations.create_organisation(
            session, OrganisationCreate(slug="au-2", name="Another AU 2"), origin=eu.issuer
        )
    added = un.cli("peer", "add", eu.issuer, "--fingerprint", await eu.fingerprint())
    assert added.returncode == 0, added.stderr
    assert "refused (homed on another node): au-2" in added.stderr
    async with un.session() as session:
        (row,) = [s for s in await service.peer_statuses(session) if s.issuer == eu.issuer]
    assert row.organisations == ["eu", "eu-2"]
    assert row.refused_organisations == ["au-2"]
    au_2 = (await registry(un))["au-2"]
    assert (au_2["origin"], au_2["name"]) == (au.issuer, "Organisation AU-2")


async def wait_for_keys(node: Node, count: int) -> set[str]:
    """The node's published fingerprints once it publishes ``count`` keys (it reloads its keys from
    its database at most once a second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        published = published_fingerprints(node)
        if len(published) == count:
            return published
        await asyncio.sleep(0.2)
    raise AssertionError(f"{node.name} does not publish {count} keys")


async def test_a_key_rotated_with_an_overlap_keeps_the_peering_working(nodes: list[Node]) -> None:
    un, au = nodes[0], nodes[1]
    await peer_both(un, au)
    old = await au.fingerprint()
    rotated = au.cli("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    both = await wait_for_keys(au, 2)
    new = await au.fingerprint()
    assert both == {old, new}
    # au's first token request signed by its new key: un fetches au's document (signed by both keys)
    async with PeerClient(au.settings, await au.key_ring(), un.issuer) as calls:
        await calls.token()
    after = await stored_peer(un, au.issuer)
    assert after is not None
    assert (after.state, set(after.trusted_thumbprints)) == ("active", {old, new})
    # the old key's overlap ends: au publishes its new key alone, which un already trusts
    await au.owner(
        "UPDATE signing_keys SET retired_at = now() - interval '1 day' WHERE retired_at IS NOT NULL"
    )
    assert await wait_for_keys(au, 1) == {new}
    engine = make_engine(un.settings.database_url, pool_size=2)  # type: ignore[arg-type]
    try:  # un's job federation.documents, one tick
        await peering.DOCUMENTS.tick(Context(make_sessionmaker(engine), un.settings, Metrics()))
    finally:
        await engine.dispose()
    last = await stored_peer(un, au.issuer)
    assert last is not None
    assert (last.state, last.trusted_thumbprints) == ("active", [new])
    async with PeerClient(un.settings, await un.key_ring(), au.issuer) as calls:  # and back
        await calls.token()


async def test_a_key_changed_without_an_overlap_is_refused_until_its_operator_confirms(
    nodes: list[Node],
) -> None:
    un, eu = nodes[0], nodes[2]
    await peer(un, eu)
    old = await eu.fingerprint()
    await eu.owner("DELETE FROM signing_keys")  # eu lost its key: it makes a new one
    deadline = time.monotonic() + 30
    while published_fingerprints(eu) == {old}:
        assert time.monotonic() < deadline, "eu kept its old key"
        await asyncio.sleep(0.2)
    new = await eu.fingerprint()
    async with un.session() as session:
        peer_row = await session.scalar(select(Peer).where(Peer.issuer == eu.issuer))
        assert peer_row is not None
        assert await service.refresh_peer(session, peer_row) is False
    refused = await stored_peer(un, eu.issuer)
    assert refused is not None
    assert refused.state == "refused"
    assert refused.trusted_thumbprints == [old]  # the last good document and keys are kept
    assert new in (refused.refused_reason or "")
    async with PeerClient(eu.settings, await eu.key_ring(), un.issuer) as calls:
        with pytest.raises(PeerError) as failed:
            await calls.token()
        assert failed.value.response.status_code == 401
    status = un.cli("peer", "status")
    (line,) = [row for row in status.stdout.splitlines() if row.startswith(eu.issuer)]
    assert " refused " in line
    assert f"its key changed to {new} without an overlap" in line
    confirmed = un.cli("peer", "add", eu.issuer, "--fingerprint", new)
    assert confirmed.returncode == 0, confirmed.stderr
    assert "(active)" in confirmed.stdout
    async with PeerClient(eu.settings, await eu.key_ring(), un.issuer) as calls:
        await calls.token()


async def test_peer_remove_drops_the_peers_records_and_its_access(nodes: list[Node]) -> None:
    un, au = nodes[0], nodes[1]
    await peer(au, un)
    async with au.session() as session:  # a record of un's as it reaches au (msnet.federation.apply)
        org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == "un"))
        await set_organisation(session, org_id)
        office = Office(organisation_id=org_id, name="UN office", sharing="network", origin=un.issuer)
        session.add(office)
        await session.flush()
        office_id = office.id
    async with PeerClient(un.settings, await un.key_ring(), au.issuer) as calls:
        token = await calls.token()
    removed = au.cli("peer", "remove", un.issuer)
    assert removed.returncode == 0, removed.stderr
    assert "1 replicated records dropped" in removed.stdout
    assert await owner_rows(au, org_id, "SELECT id FROM offices WHERE id = $1", office_id) == []
    tombstones = await owner_rows(au, org_id, "SELECT origin FROM tombstones WHERE record_id = $1", office_id)
    assert [t["origin"] for t in tombstones] == [un.issuer]
    assert await stored_peer(au, un.issuer) is None
    async with httpx.AsyncClient(base_url=au.issuer) as http:
        denied = await http.get(CHANGES, headers=bearer(token))  # issued before
        assert denied.status_code == 401, denied.text
    async with PeerClient(un.settings, await un.key_ring(), au.issuer) as calls:
        with pytest.raises(PeerError):
            await calls.token()
    with pytest.raises(NotFound):  # no such peer any more
        async with au.session() as session:
            await service.remove_peer(session, un.issuer, 600)
