"""Requests across nodes (issue #21, points 1 and 4), on live nodes over real HTTP: the node-to-node
messages they travel in (``msnet.federation.inbox``: signed, through the outbox, applied once), a
request asked of an office homed on another node, its responses, acceptance, withdrawal and closure
travelling back, both nodes' audit logs naming the remote node and organisation, and what a third
node and another organisation learn (nothing)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import AuditEvent, record
from msnet.db.engine import make_engine, make_sessionmaker, set_organisation
from msnet.errors import Conflict
from msnet.federation import inbox
from msnet.federation.client import PeerClient
from msnet.federation.feed import sign_item
from msnet.outbox.worker import Worker
from tests.federation.conftest import Node, down, peer_both
from tests.federation.test_feed import org_headers

pytestmark = pytest.mark.xdist_group("tests/federation/test_requests_across.py")  # the module's nodes

NOTE = "test.note"  # a kind of message the transport's tests send (registered below, in this process)


@inbox.handles(NOTE)
async def _note(session: AsyncSession, message: inbox.Message) -> None:
    """Records the note in the receiving node's audit log; a note saying "refuse" is refused."""
    if message.body.get("text") == "refuse":
        raise Conflict("this note is refused")
    await set_organisation(session, message.node.org_id)
    await record(
        session,
        AuditEvent(
            organisation_id=message.node.org_id,
            actor=f"node:{message.sender.issuer}",
            action=NOTE,
            resource_type="note",
            resource_id=str(message.body["text"]),
            outcome="success",
        ),
    )


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
async def worker_of(node: Node) -> AsyncIterator[Worker]:
    """``node``'s outbox worker, as its job runs it (peer messages signed by the node's key), on a pool
    of its own."""
    engine = make_engine(node.settings.database_url, pool_size=2)  # type: ignore[arg-type]
    sessionmaker = make_sessionmaker(engine)
    peer = inbox.Delivery(sessionmaker, node.settings)
    worker = Worker(sessionmaker, node.settings, node.app.state.metrics, peer)
    try:
        yield worker
    finally:
        await worker.close()
        await peer.close()
        await engine.dispose()


async def deliver(node: Node) -> int:
    """Every peer message of ``node`` due now attempted (until none is); how many attempts."""
    attempts = 0
    async with worker_of(node) as worker:
        while claimed := await worker.run_once():
            attempts += claimed
    return attempts


async def org_id(node: Node, slug: str) -> UUID:
    rows = await node.owner("SELECT id FROM organisations WHERE slug = $1", slug)
    return rows[0]["id"]


async def send_note(sender: Node, to: Node, text: str, key: str, subject: str | None = None) -> UUID:
    async with sender.session() as session:
        return await inbox.send(
            session,
            to=to.issuer,
            kind=NOTE,
            key=key,
            body={"text": text},
            subject=subject,
            organisation=await org_id(sender, sender.orgs[0]),
        )


async def notes(node: Node, sender: Node) -> list[str]:
    rows = await node.owner(
        "SELECT resource_id FROM audit_log WHERE action = $1 AND actor = $2 ORDER BY seq",
        NOTE,
        f"node:{sender.issuer}",
    )
    return [r["resource_id"] for r in rows]


async def peer_messages(node: Node, to: Node) -> list[dict[str, Any]]:
    rows = await node.owner(
        "SELECT id, attempts, delivered_at, failed_at, last_error FROM outbox_messages "
        "WHERE kind = 'peer' AND payload->>'to' = $1 ORDER BY created_at",
        to.issuer,
    )
    return [dict(r) for r in rows]


def claims(sender: Node, to: Node, **changes: Any) -> dict[str, Any]:
    return {
        "id": str(uuid4()),
        "kind": NOTE,
        "from": sender.issuer,
        "to": to.issuer,
        "iat": int(time.time()),
        "body": {"text": f"posted {uuid4()}"},
        **changes,
    }


async def post(sender: Node, to: Node, token: str | bytes) -> httpx.Response:
    """``token`` posted to ``to``'s inbox by ``sender``, with its node token."""
    async with PeerClient(sender.settings, await sender.key_ring(), to.issuer) as client:
        return await client.request(
            "POST", inbox.PATH, content=token, headers={"content-type": inbox.MEDIA_TYPE}
        )


async def signed(node: Node, body: dict[str, Any]) -> str:
    return inbox.sign((await node.key_ring()).signing, body)


# --- the transport ----------------------------------------------------------------------------


async def test_a_message_is_delivered_signed_once_however_often_it_is_sent_or_posted(
    peered: list[Node],
) -> None:
    un, au, _ = peered
    first = await send_note(un, au, "once", key="once")
    again = await send_note(un, au, "once", key="once")  # the same change queued again: one message
    assert first == again
    assert [m["id"] for m in await peer_messages(un, au)].count(first) == 1
    assert await deliver(un) == 1
    assert await notes(au, un) == ["once"]
    (message,) = [m for m in await peer_messages(un, au) if m["id"] == first]
    assert message["delivered_at"] is not None
    assert message["attempts"] == 1

    # the same message posted again (a delivery whose answer was lost): taken, without effect
    replay = await signed(un, claims(un, au, id=str(first), body={"text": "once"}))
    response = await post(un, au, replay)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": str(first), "status": "duplicate"}
    # under the same id with other content: refused
    other = await post(un, au, await signed(un, claims(un, au, id=str(first), body={"text": "twice"})))
    assert other.status_code == 409, other.text
    assert await notes(au, un) == ["once"]


async def test_forged_altered_misaddressed_stale_or_unknown_messages_are_refused_and_change_nothing(
    peered: list[Node],
) -> None:
    un, au, eu = peered
    good = await signed(un, claims(un, au, body={"text": "good"}))
    head, payload, signature = good.split(".")
    altered_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered_claims["body"] = {"text": "altered"}
    altered = ".".join(
        [head, base64.urlsafe_b64encode(json.dumps(altered_claims).encode()).decode().rstrip("="), signature]
    )
    cases = {
        "altered": (un, altered, 400),
        "signed by another node's key": (un, await signed(eu, claims(un, au)), 400),
        "another node's message, relayed": (un, await signed(eu, claims(eu, au)), 400),
        "signed by the caller in another node's name": (un, await signed(un, claims(eu, au)), 403),
        "for another node": (un, await signed(un, claims(un, eu)), 400),
        "signed long ago": (un, await signed(un, claims(un, au, iat=int(time.time()) - 3600)), 400),
        "of a kind the node does not take": (un, await signed(un, claims(un, au, kind="no.such")), 422),
        "refused by its handler": (un, await signed(un, claims(un, au, body={"text": "refuse"})), 409),
        "not a JWS": (un, "not.a.jws", 400),
        "a change item, not a message": (un, await _change_item(un), 400),
    }
    before = await au.owner("SELECT count(*) AS n FROM federation_messages")
    for case, (caller, token, status) in cases.items():
        response = await post(caller, au, token)
        assert response.status_code == status, (case, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), case
    assert await au.owner("SELECT count(*) AS n FROM federation_messages") == before
    assert not {"good", "altered", "refuse"} & set(await notes(au, un))


async def _change_item(node: Node) -> str:
    return sign_item((await node.key_ring()).signing, claims(node, node))


async def test_only_a_peer_node_may_post_to_the_inbox(peered: list[Node]) -> None:
    un, au, _ = peered
    token = await signed(un, claims(un, au, body={"text": "from a client"}))
    client = await org_headers(au, "au", ["requests:write"])
    async with httpx.AsyncClient(base_url=au.issuer) as http:
        anonymous = await http.post(inbox.PATH, content=token, headers={"content-type": inbox.MEDIA_TYPE})
        organisation = await http.post(
            inbox.PATH, content=token, headers={"content-type": inbox.MEDIA_TYPE, **client}
        )
    assert anonymous.status_code == 401, anonymous.text
    assert organisation.status_code == 403, organisation.text
    assert "from a client" not in await notes(au, un)


async def test_a_peer_down_gets_its_messages_once_it_is_back_in_order_each_once(peered: list[Node]) -> None:
    un, au, eu = peered
    with down(au):
        for n in range(3):
            await send_note(un, au, f"while down {n}", key=f"down {n}", subject="down")
        await send_note(un, eu, "to eu meanwhile", key="meanwhile")
        attempts = await deliver(un)  # the first of the subject fails; the others wait behind it
        assert attempts == 2
        pending = [m for m in await peer_messages(un, au) if m["delivered_at"] is None]
        assert [m["attempts"] for m in pending] == [1, 0, 0]
        assert pending[0]["last_error"].startswith(f"{au.issuer}: ConnectError")
    assert await notes(eu, un) == ["to eu meanwhile"]  # another peer is not held back
    # the retry is due 5 s after the failure (the outbox's schedule)
    for _ in range(200):
        await deliver(un)
        if all(m["delivered_at"] for m in await peer_messages(un, au)):
            break
        await asyncio.sleep(0.1)
    down_notes = [n for n in await notes(au, un) if n.startswith("while down")]
    assert down_notes == ["while down 0", "while down 1", "while down 2"]
