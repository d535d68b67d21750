"""Witnessed audit between live nodes over real HTTP (issue #21 point 3): each node signs checkpoints of
its audit chain with its node key, serves the latest at /federation/v1/checkpoint, fetches and keeps
its peers' ones, and `msnet audit verify` checks its chain against what its peers hold of it, so that
a database superuser's rewrite of history older than a witnessed checkpoint is caught and the
checkpoint named. Forged checkpoints are refused and audited; one more is signed at shutdown."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet, RSAKey

from msnet.audit.service import AuditEvent, entry_hash, record, verify
from msnet.auth.keys import ALG
from msnet.db.embedded import with_database
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.federation import checkpoints
from msnet.federation.checkpoints import Witness
from msnet.federation.client import PeerClient
from msnet.jobs.checkpoints import Checkpoints
from msnet.jobs.runner import Context
from msnet.middleware import Metrics
from tests.federation.conftest import Node, peer_both
from tests.federation.test_feed import org_headers

pytestmark = pytest.mark.xdist_group("tests/federation/test_checkpoints.py")  # the module's nodes, made once

CHECKPOINT = "/federation/v1/checkpoint"
WITNESSED = "/federation/v1/witnessed"


@pytest.fixture(scope="module")
def peered(nodes: list[Node]) -> list[Node]:
    """Every two of un, au and eu peered."""
    un, au, eu = nodes

    async def setup() -> None:
        await peer_both(un, au)
        await peer_both(un, eu)
        await peer_both(au, eu)

    asyncio.run(setup())
    return nodes


@asynccontextmanager
async def witness_of(node: Node, **settings: Any) -> AsyncIterator[Witness]:
    """What ``node``'s job ``audit.checkpoints`` uses, on a pool of its own."""
    engine = make_engine(node.settings.database_url, pool_size=2)  # type: ignore[arg-type]
    witness = Witness(make_sessionmaker(engine), replace(node.settings, **settings))
    try:
        yield witness
    finally:
        await witness.close()
        await engine.dispose()


async def sign(node: Node) -> checkpoints.Checkpoint | None:
    async with witness_of(node) as witness:
        return await witness.sign()


async def fetch(witness_node: Node, peer: Node) -> checkpoints.Checkpoint | None:
    """``witness_node`` fetches ``peer``'s latest checkpoint, with the keys it holds of it."""
    rows = await witness_node.owner("SELECT jwks FROM peers WHERE issuer = $1", peer.issuer)
    async with witness_of(witness_node) as witness:
        return await witness.fetch(peer.issuer, json.loads(rows[0]["jwks"]))


async def append(node: Node, count: int) -> None:
    """``count`` entries more in ``node``'s audit log, the node's own (no organisation's)."""
    async with node.session() as session:
        for n in range(count):
            await record(
                session,
                AuditEvent(
                    organisation_id=None,
                    actor="operator",
                    action="test.event",
                    resource_type="test",
                    resource_id=str(n),
                    outcome="success",
                ),
            )


async def head(node: Node) -> tuple[int, str]:
    row = (await node.owner("SELECT seq, hash FROM audit_head WHERE id = 1"))[0]
    return row["seq"], row["hash"]


async def held(node: Node, issuer: str) -> list[tuple[int, str]]:
    """The checkpoints of ``issuer``'s chain that ``node`` keeps, as (size, hash)."""
    rows = await node.owner(
        "SELECT size, hash FROM audit_checkpoints WHERE issuer = $1 ORDER BY size", issuer
    )
    return [(r["size"], r["hash"]) for r in rows]


async def as_peer(
    caller: Node, callee: Node, path: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    """``GET path`` on ``callee`` as ``caller``'s node (its own token, got with private_key_jwt)."""
    async with PeerClient(caller.settings, await caller.key_ring(), callee.issuer) as client:
        return await client.get(path, params)


def superuser_of(node: Node, superuser_url: str) -> str:
    return with_database(superuser_url, urlsplit(node.settings.database_url).path.lstrip("/"))


async def rewrite(node: Node, superuser_url: str, seq: int, *, recompute: bool) -> None:
    """As the database superuser, triggers off: entry ``seq``'s actor changed; with ``recompute``,
    every hash from it to the head made to match again, head included (a self-consistent chain)."""
    conn = await asyncpg.connect(superuser_of(node, superuser_url))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            rows = [
                dict(r) for r in await conn.fetch("SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq", seq)
            ]
            rows[0]["actor"] = "operator:rewritten"
            if recompute:
                for i, row in enumerate(rows):
                    if i:
                        row["prev_hash"] = rows[i - 1]["hash"]
                    row["hash"] = entry_hash(row)
            for row in rows:
                await conn.execute(
                    "UPDATE audit_log SET actor = $2, prev_hash = $3, hash = $4 WHERE seq = $1",
                    row["seq"],
                    row["actor"],
                    row["prev_hash"],
                    row["hash"],
                )
            if recompute:
                await conn.execute("UPDATE audit_head SET hash = $1 WHERE id = 1", rows[-1]["hash"])
    finally:
        await conn.close()


async def published_keys(node: Node) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(node.issuer + "/.well-known/jwks.json")).json()


def note_lines(token: str, jwks: dict[str, Any]) -> list[str]:
    """The lines of a checkpoint's note, once its signature verifies with ``jwks`` (joserfc alone)."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "msnet-checkpoint+jws"
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    return (
        jws.deserialize_compact(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
        .payload.decode()
        .split("\n")
    )


async def test_a_checkpoint_is_signed_with_the_node_key_and_verifies_with_its_jwks(
    peered: list[Node],
) -> None:
    un, au, _ = peered
    assert (await as_peer(au, un, CHECKPOINT)).status_code == 404  # none signed yet
    await append(un, 2)
    size, head_hash = await head(un)
    assert await sign(un) is not None
    assert await sign(un) is None  # the chain has not grown: nothing new to sign
    response = await as_peer(au, un, CHECKPOINT)
    assert response.status_code == 200, response.text
    served = response.json()
    jwks = await published_keys(un)
    lines = note_lines(served["checkpoint"], jwks)
    assert lines[:3] == [f"{un.issuer}/audit", str(size), base64.b64encode(bytes.fromhex(head_hash)).decode()]
    signed_at = datetime.strptime(lines[3], "signed-at %Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 300
    assert lines[4:] == [""]
    assert (served["issuer"], served["size"], served["hash"]) == (un.issuer, size, head_hash)


async def test_only_a_peer_node_reads_checkpoints(peered: list[Node]) -> None:
    un, au, _ = peered
    headers = await org_headers(un, "un", ["org:admin", "roster:read"])  # un's own organisation's client
    async with httpx.AsyncClient(base_url=un.issuer) as http:
        for path in (CHECKPOINT, WITNESSED):
            assert (await http.get(path)).status_code == 401
            assert (await http.get(path, headers=headers)).status_code == 403
    for params, name in (
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        response = await as_peer(au, un, WITNESSED, params)
        assert response.status_code == 422, response.text
        assert name in response.text


async def test_peers_fetch_and_keep_each_others_checkpoints(peered: list[Node]) -> None:
    un, au, eu = peered
    await append(un, 1)
    first = await sign(un)
    assert first is not None
    assert await fetch(au, un) is not None
    await append(un, 3)
    grown = await head(un)  # the 3 entries, and au's token request for the fetch
    second = await sign(un)
    assert second is not None
    assert (second.size, second.hash) == grown
    assert second.size >= first.size + 3
    assert await fetch(au, un) is not None
    assert await fetch(au, un) is None  # nothing new
    kept = await held(au, un.issuer)
    assert kept[-2:] == [(first.size, first.hash), (second.size, second.hash)]

    response = await as_peer(un, au, WITNESSED, {"limit": 1})  # un asks what au holds of it
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(kept)
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    items = page["items"]
    while page["next_cursor"]:
        page = (await as_peer(un, au, WITNESSED, {"limit": 1, "cursor": page["next_cursor"]})).json()
        items += page["items"]
    assert [(i["size"], i["hash"]) for i in items] == kept
    jwks = await published_keys(un)
    for item in items:
        assert note_lines(item["checkpoint"], jwks)[:2] == [f"{un.issuer}/audit", str(item["size"])]

    others = (await as_peer(eu, au, WITNESSED)).json()  # eu is given its own chain's only
    assert all(item["issuer"] == eu.issuer for item in others["items"])
    assert others["total"] == len(await held(au, eu.issuer))


async def test_a_rewrite_older_than_a_witnessed_checkpoint_fails_verify_naming_it(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, eu = peered
    await append(eu, 3)
    witnessed = await sign(eu)
    assert witnessed is not None
    assert await fetch(un, eu) is not None
    assert await fetch(au, eu) is not None
    await append(eu, 2)
    intact = eu.cli("audit", "verify")
    assert intact.returncode == 0, intact.stderr
    witnesses = next(line for line in intact.stdout.splitlines() if line.startswith("witnessed:"))
    assert au.issuer in witnesses
    assert un.issuer in witnesses
    assert witnesses.endswith(
        f"match, up to entry {witnessed.size}; later entries are vouched for by the chain alone"
    )

    await rewrite(eu, superuser_url, witnessed.size - 2, recompute=True)
    assert (await verify(eu.admin_url)).ok  # the chain alone cannot tell
    broken = eu.cli("audit", "verify")
    assert broken.returncode != 0
    assert f"checkpoint {witnessed.size} of {eu.issuer}" in broken.stderr
    assert "held by" in broken.stderr
    assert "rewritten" in broken.stderr


async def test_a_rewrite_newer_than_the_last_witnessed_checkpoint_is_caught_by_the_chain(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, _ = peered
    witnessed = await sign(au)
    assert witnessed is not None
    assert await fetch(un, au) is not None
    await append(au, 2)
    last, _ = await head(au)
    await rewrite(au, superuser_url, last, recompute=False)
    broken = au.cli("audit", "verify")
    assert broken.returncode != 0
    assert f"audit chain broken at entry {last}" in broken.stderr
    assert "its contents do not match its hash" in broken.stderr
    assert "checkpoint" not in broken.stderr


async def test_a_forged_checkpoint_is_refused_and_audited(peered: list[Node]) -> None:
    un, au, eu = peered
    await append(au, 1)
    assert await sign(au) is not None
    assert await fetch(un, au) is not None
    before = await held(un, au.issuer)
    size, head_hash = await head(au)
    au_key = (await au.key_ring()).signing
    stranger = RSAKey.generate_key(2048, parameters={"alg": ALG, "kid": au_key.kid})
    forgeries = {
        "not one of": checkpoints.make(
            au.issuer, size + 5, head_hash, RSAKey.generate_key(2048, auto_kid=True)
        ),
        "does not verify": checkpoints.make(
            au.issuer, size + 6, head_hash, stranger
        ),  # au's kid, not its key
        "is of the chain": replace(
            checkpoints.make(eu.issuer, size + 7, head_hash, au_key), issuer=au.issuer
        ),
        "went back": checkpoints.make(au.issuer, before[-1][0] - 1, head_hash, au_key),
        "another hash": checkpoints.make(au.issuer, before[-1][0], "ab" * 32, au_key),
    }
    for reason, forged in forgeries.items():
        await au.owner(
            "DELETE FROM audit_checkpoints WHERE issuer = $1 AND size >= $2", au.issuer, forged.size
        )
        await au.owner(
            "INSERT INTO audit_checkpoints (issuer, size, hash, signed_at, jws) VALUES ($1, $2, $3, $4, $5)",
            au.issuer,
            forged.size,
            forged.hash,
            forged.signed_at,
            forged.jws,
        )
        assert (await as_peer(un, au, CHECKPOINT)).json()["checkpoint"] == forged.jws
        assert await fetch(un, au) is None, reason
        assert await held(un, au.issuer) == before, reason
        refusals = await un.owner(
            "SELECT actor, outcome, resource_id FROM audit_log WHERE action = 'checkpoint.refuse' ORDER BY seq DESC LIMIT 1"
        )
        assert [tuple(r) for r in refusals] == [(f"node:{au.issuer}", "denied", au.issuer)], reason

    # a peer holding a forged checkpoint of un's chain: un's verify names it and does not count it
    un_size, _un_hash = await head(un)
    forged = checkpoints.make(un.issuer, un_size, "cd" * 32, RSAKey.generate_key(2048, auto_kid=True))
    await eu.owner(
        "INSERT INTO audit_checkpoints (issuer, size, hash, signed_at, jws) VALUES ($1, $2, $3, $4, $5)",
        un.issuer,
        forged.size,
        forged.hash,
        forged.signed_at,
        forged.jws,
    )
    result = un.cli("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert f"{eu.issuer} holds a checkpoint of size {un_size} that is refused" in result.stderr
    assert "audit chain intact" in result.stdout


async def test_a_checkpoint_is_signed_at_shutdown(peered: list[Node]) -> None:
    un = peered[0]
    engine = make_engine(un.settings.database_url, pool_size=3)  # type: ignore[arg-type]
    context = Context(make_sessionmaker(engine), replace(un.settings, checkpoint_interval=3600), Metrics())
    stop = asyncio.Event()
    start, _ = await head(un)
    job = asyncio.create_task(Checkpoints().run(context, stop))
    try:
        for _ in range(300):
            first = await held(un, un.issuer)
            if first and first[-1][0] >= start:
                break
            await asyncio.sleep(0.1)
        assert first
        assert first[-1][0] >= start
        await append(un, 2)
        stop.set()
        await asyncio.wait_for(job, 60)
    finally:
        stop.set()
        await asyncio.gather(job, return_exceptions=True)
        await engine.dispose()
    last = await held(un, un.issuer)
    assert last[-1] == await head(un)
    assert last[-1][0] >= first[-1][0] + 2


def test_a_checkpoint_larger_than_the_database_holds_is_refused_as_malformed() -> None:
    """A peer's checkpoint of 2**63 entries or more is refused when read (kept, it would fail the
    bigint insert and end the job's round before the next peers were fetched)."""
    issuer = "http://peer.example"
    key = RSAKey.generate_key(2048, parameters={"alg": ALG}, auto_kid=True)
    keys = KeySet([key])
    largest = checkpoints.make(issuer, 2**63 - 1, "ab" * 32, key)
    assert checkpoints.read(largest.jws, issuer, keys).size == 2**63 - 1
    for size in (2**63, 10**19 - 1):
        with pytest.raises(checkpoints.BadCheckpoint, match="size or its signed-at line is malformed"):
            checkpoints.read(checkpoints.make(issuer, size, "ab" * 32, key).jws, issuer, keys)
