"""Peering two live nodes over real HTTP, as their operators would (issue #20 points 2 and 6): the
signed node document, `msnet node fingerprint`, `msnet peer add/list/status/remove`, the node's OAuth
client of its peer (scope `federation`), and key rotation with and without an overlap."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from msnet.federation.models import Peer
from tests.federation.conftest import Node

pytestmark = pytest.mark.xdist_group("tests/federation/test_peering.py")  # the module's nodes, made once


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638, computed here from the published JWKS: the members e, kty, n in order, no spaces."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return "SHA256:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def published_fingerprints(node: Node) -> set[str]:
    keys = httpx.get(node.issuer + "/.well-known/jwks.json").json()["keys"]
    return {thumbprint(k) for k in keys}


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


def test_two_nodes_peer_as_their_operators_would(nodes: list[Node]) -> None:
    un, au = nodes[0], nodes[1]
    au_print = au.cli("node", "fingerprint").stdout.strip()
    un_print = un.cli("node", "fingerprint").stdout.strip()
    added = un.cli("peer", "add", au.issuer + "/", "--fingerprint", au_print)
    assert added.returncode == 0, added.stderr
    assert au.issuer in added.stdout
    assert "au, au-2" in added.stdout
    assert au.cli("peer", "add", un.issuer, "--fingerprint", un_print).returncode == 0
    listed = un.cli("peer", "list")
    assert listed.returncode == 0
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
    table = un.cli("peer", "status")
    assert table.stdout.splitlines()[0].split() == [
        "ISSUER",
        "STATE",
        "LAST",
        "SYNC",
        "LAG",
        "FAILURES",
        "LAST",
        "ERROR",
    ]
    assert any(line.startswith(au.issuer) and " never " in line for line in table.stdout.splitlines())
    # the organisations homed on au are in un's registry, with the same ids, homed on au
    au_orgs = {o["slug"]: o for o in httpx.get(au.issuer + "/v1/organisations").json()["items"]}
    un_orgs = {o["slug"]: o for o in httpx.get(un.issuer + "/v1/organisations").json()["items"]}
    assert {s: un_orgs[s]["id"] for s in ("au", "au-2")} == {s: au_orgs[s]["id"] for s in ("au", "au-2")}
    assert un_orgs["au"]["origin"] == au.issuer


def test_a_wrong_fingerprint_is_refused_and_nothing_is_recorded(nodes: list[Node]) -> None:
    un, au, eu = nodes
    wrong = au.cli("node", "fingerprint").stdout.strip()  # a real fingerprint, of another node
    refused = eu.cli("peer", "add", un.issuer, "--fingerprint", wrong)
    assert refused.returncode != 0
    assert f"not by {wrong}" in refused.stderr
    assert "check the fingerprint" in refused.stderr
    refused = un.cli("peer", "add", eu.issuer, "--fingerprint", "SHA256:" + "A" * 43)
    assert refused.returncode != 0
    listed = un.cli("peer", "list").stdout
    assert eu.issuer not in listed
