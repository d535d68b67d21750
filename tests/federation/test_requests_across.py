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
from dataclasses import dataclass, replace
from datetime import date, timedelta
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
from tests.federation.test_sync import puller_of, rows

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
    """``node``'s outbox worker for peer messages, as its job runs it (signed by the node's key), on a
    pool of its own."""
    engine = make_engine(node.settings.database_url, pool_size=2)  # type: ignore[arg-type]
    sessionmaker = make_sessionmaker(engine)
    peer = inbox.Delivery(sessionmaker, node.settings)
    worker = Worker(sessionmaker, node.settings, node.app.state.metrics, peer)
    worker.kinds = ["peer"]  # the webhooks stay in the outbox, for the tests to read
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


# --- requests across nodes --------------------------------------------------------------------

SCOPES = ["directory:read", "directory:write", "roster:write", "requests:read", "requests:write", "org:admin"]


@dataclass
class World:
    """un (on node un) asks; au (on node au) has an office that can help; au-2 shares au's node; eu's
    node peers with both."""

    un: Node
    au: Node
    eu: Node
    headers: dict[str, dict[str, str]]
    process: dict[str, Any]
    un_office: dict[str, Any]
    au_office: dict[str, Any]
    expert: dict[str, Any]


async def call(
    node: Node, headers: dict[str, str], method: str, path: str, status: int = 200, **kwargs: Any
) -> Any:
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        response = await http.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def pull_until(superuser_url: str, reader: Node, origin: Node, table: str, *ids: str) -> None:
    """``reader`` pulls ``origin``'s change feed, as its job would, until it holds the records ``ids``
    of ``table`` (the feed serves a change once every transaction begun before it has ended, in the
    whole cluster)."""
    async with puller_of(reader) as puller:
        for _ in range(300):
            await puller.pull(origin.issuer)
            held = await rows(
                superuser_url, reader, f"SELECT id FROM {table} WHERE id = ANY($1::uuid[])", list(ids)
            )
            if len(held) == len(ids):
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{reader.name} did not get {table} {ids} from {origin.name}")


@pytest.fixture(scope="module")
def world(peered: list[Node], superuser_url: str) -> World:
    un, au, eu = peered

    async def setup() -> World:
        headers = {
            "un": await org_headers(un, "un", SCOPES),
            "au": await org_headers(au, "au", SCOPES),
            "au-2": await org_headers(au, "au-2", SCOPES),
            "eu": await org_headers(eu, "eu", SCOPES),
        }
        process = await call(
            un,
            headers["un"],
            "POST",
            "/v1/processes",
            201,
            json={
                "name": "Central African Republic peace process",
                "countries": ["CF"],
                "sharing": "network",
            },
        )
        un_office = await call(
            un, headers["un"], "POST", "/v1/offices", 201, json={"name": "UN MSU", "sharing": "network"}
        )
        au_office = await call(
            au,
            headers["au"],
            "POST",
            "/v1/offices",
            201,
            json={"name": "AU Mediation Unit", "sharing": "network"},
        )
        capacity = await call(
            au,
            headers["au"],
            "POST",
            f"/v1/offices/{au_office['id']}/capacities",
            201,
            json={
                "service_type": "process_design",
                "themes": ["ceasefire_security"],
                "countries": ["CF"],
                "languages": ["fr"],
                "lead_time_days": 3,
                "concurrent_engagements": 5,
            },
        )
        expert = await call(
            au,
            headers["au"],
            "POST",
            "/v1/experts",
            201,
            json={"name": "Aïssatou Diallo", "sharing": "private"},
        )
        for node, slug in ((au, "au"), (au, "au-2")):
            await call(
                node,
                headers[slug],
                "POST",
                "/v1/webhooks",
                201,
                json={
                    "url": f"https://hooks.example.org/{slug}",
                    "event_types": ["request.received", "request.state_changed", "request.accepted"],
                },
            )
        await pull_until(superuser_url, un, au, "offices", au_office["id"])
        await pull_until(superuser_url, un, au, "capacities", capacity["id"])  # routing ranks by it
        await pull_until(superuser_url, au, un, "offices", un_office["id"])
        await pull_until(superuser_url, au, un, "processes", process["id"])
        await pull_until(superuser_url, eu, au, "offices", au_office["id"])
        return World(un, au, eu, headers, process, un_office, au_office, expert)

    return asyncio.run(setup())


async def ask(world: World, **fields: Any) -> dict[str, Any]:
    """A request of un's, submitted: to au's office unless ``fields`` say otherwise."""
    start = date.today() + timedelta(days=30)
    body = {
        "process_id": world.process["id"],
        "office_id": world.un_office["id"],
        "title": f"Ceasefire monitoring design support {uuid4()}",
        "description": "Confidential: the parties have not agreed yet.",
        "service_types": ["process_design"],
        "themes": ["ceasefire_security"],
        "period": {"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
        "languages": ["fr"],
        "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
        "addressees": [world.au_office["id"]],
        **fields,
    }
    draft = await call(world.un, world.headers["un"], "POST", "/v1/requests", 201, json=body)
    return await call(world.un, world.headers["un"], "POST", f"/v1/requests/{draft['id']}/submit")


async def as_seen(node: Node, headers: dict[str, str], request_id: str, status: int = 200) -> Any:
    return await call(node, headers, "GET", f"/v1/requests/{request_id}", status)


async def respond(world: World, request_id: str, status: int = 201, **fields: Any) -> Any:
    body = {"office_id": world.au_office["id"], "kind": "offer", "experts": [world.expert["id"]], **fields}
    return await call(
        world.au, world.headers["au"], "POST", f"/v1/requests/{request_id}/responses", status, json=body
    )


async def audit(node: Node, request_or_response: str) -> list[tuple[str, str]]:
    rows = await node.owner(
        "SELECT actor, action FROM audit_log WHERE resource_id = $1 ORDER BY seq", request_or_response
    )
    return [(r["actor"], r["action"]) for r in rows]


async def webhooks(node: Node, slug: str, request_id: str) -> list[tuple[str, Any]]:
    rows = await node.owner(
        "SELECT m.event_type, m.payload FROM outbox_messages m JOIN organisations o ON o.id = m.organisation_id "
        "WHERE m.kind = 'webhook' AND o.slug = $1 AND m.payload->'data'->>'request_id' = $2 ORDER BY m.created_at",
        slug,
        request_id,
    )
    return [(r["event_type"], json.loads(r["payload"])["data"]) for r in rows]


async def test_a_request_to_an_office_on_another_node_and_its_answers_travel_both_ways(world: World) -> None:
    un, au = world.un, world.au
    submitted = await ask(world)
    rid = submitted["id"]
    await as_seen(au, world.headers["au"], rid, 404)  # not there before the message is delivered
    assert await deliver(un) == 1
    inbox_page = await call(au, world.headers["au"], "GET", "/v1/inbox")
    (copy,) = [r for r in inbox_page["items"] if r["id"] == rid]
    assert copy["origin"] == un.issuer
    assert copy["organisation"] == "un"
    assert copy["state"] == "submitted"
    assert copy["title"] == submitted["title"]
    assert [a["office_id"] for a in copy["addressees"]] == [world.au_office["id"]]
    assert sorted(await webhooks(au, "au", rid), key=lambda event: event[0]) == [
        ("request.received", {"request_id": rid, "offices": [world.au_office["id"]]}),
        ("request.state_changed", {"request_id": rid, "from": "draft", "to": "submitted"}),
    ]

    # held by its home, the copy does not move: a hold there stops the responses here
    version = (await as_seen(un, world.headers["un"], rid))["version"]
    held = await call(
        un,
        {**world.headers["un"], "If-Match": f'"{version}"'},
        "PATCH",
        f"/v1/requests/{rid}",
        json={"state": "on-hold"},
    )
    await deliver(un)
    assert (await as_seen(au, world.headers["au"], rid))["state"] == "on-hold"
    await respond(world, rid, 409)
    await call(
        un,
        {**world.headers["un"], "If-Match": f'"{held["version"]}"'},
        "PATCH",
        f"/v1/requests/{rid}",
        json={"state": "submitted"},
    )
    await deliver(un)
    assert (await as_seen(au, world.headers["au"], rid))["state"] == "submitted"

    offer = await respond(world, rid, note="We can start in two weeks.")
    assert await deliver(au) == 1
    at_home = await call(un, world.headers["un"], "GET", f"/v1/requests/{rid}/responses")
    (taken,) = at_home["items"]
    assert taken["id"] == offer["id"]
    assert taken["organisation"] == "au"
    assert taken["experts"] == [world.expert["id"]]
    assert taken["status"] == "open"
    assert (await as_seen(un, world.headers["un"], rid))["state"] == "received"
    await deliver(un)
    assert (await as_seen(au, world.headers["au"], rid))["state"] == "received"

    await call(un, world.headers["un"], "POST", f"/v1/requests/{rid}/responses/{offer['id']}/accept")
    await deliver(un)
    assert (await as_seen(au, world.headers["au"], rid))["state"] == "accepted"
    (mine,) = (await call(au, world.headers["au"], "GET", f"/v1/requests/{rid}/responses"))["items"]
    assert mine["status"] == "accepted"
    assert (
        "request.accepted",
        {"request_id": rid, "response_id": offer["id"], "accepted": True},
    ) in await webhooks(au, "au", rid)

    outcome = {"delivered": True, "modality": "remote", "note": "Design workshop held."}
    await call(un, world.headers["un"], "POST", f"/v1/requests/{rid}/close", json=outcome)
    await deliver(un)
    closed = await as_seen(au, world.headers["au"], rid)
    assert closed["state"] == "completed"
    assert closed["outcome"]["note"] == "Design workshop held."
    assert [t["to_state"] for t in closed["history"]] == [
        t["to_state"] for t in (await as_seen(un, world.headers["un"], rid))["history"]
    ]
    # nothing about it is left to send, and nothing was refused
    for node in (un, au):
        assert (
            await node.owner(
                "SELECT id FROM outbox_messages WHERE kind = 'peer' AND payload->>'subject' = $1 "
                "AND delivered_at IS NULL",
                rid,
            )
            == []
        )

    # both audit logs name the remote node and organisation as the actor of what it did
    assert (f"node:{au.issuer}#au", "request.respond") in await audit(un, offer["id"])
    received = await audit(au, rid)
    assert (f"node:{un.issuer}#un", "request.received") in received
    assert (f"node:{un.issuer}#un", "request.changed") in received


async def test_best_matches_route_to_an_office_on_another_node_with_its_reasons(world: World) -> None:
    submitted = await ask(world, addressees=[], route="best_matches")
    assert [a["office_id"] for a in submitted["addressees"]] == [world.au_office["id"]]
    (routed,) = submitted["routing"]
    assert routed["reasons"]
    await deliver(world.un)
    copy = await as_seen(world.au, world.headers["au"], submitted["id"])
    assert copy["routing"] == submitted["routing"]
    assert copy["route"] == "best_matches"


async def test_a_withdrawal_that_crosses_an_offer_ends_withdrawn_on_both_sides(world: World) -> None:
    un, au = world.un, world.au
    rid = (await ask(world))["id"]
    await deliver(un)
    offer = await respond(world, rid)  # on au's copy, not yet at home...
    await call(un, world.headers["un"], "POST", f"/v1/requests/{rid}/withdraw")  # ...when un withdraws
    await deliver(au)  # the offer reaches a withdrawn request: refused
    (sent,) = [m for m in await peer_messages(au, un) if m["delivered_at"] is None]
    assert sent["failed_at"] is not None
    assert "409" in sent["last_error"]
    await deliver(un)
    assert (await as_seen(un, world.headers["un"], rid))["state"] == "cancelled"
    assert (await call(un, world.headers["un"], "GET", f"/v1/requests/{rid}/responses"))["items"] == []
    assert (await as_seen(au, world.headers["au"], rid))["state"] == "cancelled"
    (mine,) = (await call(au, world.headers["au"], "GET", f"/v1/requests/{rid}/responses"))["items"]
    assert mine["id"] == offer["id"]
    assert mine["status"] == "not_selected"


async def test_a_message_about_a_request_the_receiver_does_not_hold_is_refused_and_creates_nothing(
    world: World,
) -> None:
    un, au, eu = world.un, world.au, world.eu
    rid = (await ask(world))["id"]
    await deliver(un)
    au_org, eu_org = await org_id(au, "au"), await org_id(eu, "eu")
    fake = uuid4()
    response = {
        "id": str(uuid4()),
        "request_id": str(uuid4()),
        "organisation_id": str(au_org),
        "office_id": world.au_office["id"],
        "kind": "offer",
        "expert_ids": [],
        "period_start": None,
        "period_end": None,
        "note": "",
        "reason": "",
    }
    cases = {
        "a response to a request un does not hold": (au, un, "request.response", response, 404),
        "a response in another node's organisation's name": (
            au,
            un,
            "request.response",
            {**response, "request_id": rid, "organisation_id": str(eu_org)},
            403,
        ),
        "a malformed response": (au, un, "request.response", {**response, "kind": "maybe"}, 422),
        "a change to a request au does not hold": (
            un,
            au,
            "request.changed",
            await _copy_of(un, au, rid, fake),
            404,
        ),
        "a copy of another node's request": (eu, au, "request.sent", await _copy_of(un, au, rid, rid), 403),
    }
    for case, (sender, to, kind, body, status) in cases.items():
        answer = await post(sender, to, await signed(sender, claims(sender, to, kind=kind, body=body)))
        assert answer.status_code == status, (case, answer.text)
    assert await un.owner("SELECT id FROM request_responses WHERE id = $1", UUID(response["id"])) == []
    assert await au.owner("SELECT id FROM requests WHERE id = $1", fake) == []
    assert await eu.owner("SELECT id FROM requests WHERE id = $1", UUID(rid)) == []


async def _copy_of(home: Node, to: Node, rid: str, as_id: UUID | str) -> dict[str, Any]:
    """The copy ``home`` sends ``to`` of request ``rid``, under the id ``as_id``."""
    rows = await home.owner(
        "SELECT payload FROM outbox_messages WHERE kind = 'peer' AND payload->>'to' = $1 "
        "AND payload->'body'->>'id' = $2 ORDER BY created_at DESC LIMIT 1",
        to.issuer,
        rid,
    )
    return {**json.loads(rows[0]["payload"])["body"], "id": str(as_id)}


async def test_a_third_node_and_another_organisation_on_the_addressees_node_learn_nothing(
    world: World, superuser_url: str
) -> None:
    un, au, eu = world.un, world.au, world.eu
    submitted = await ask(world)
    rid = submitted["id"]
    await deliver(un)
    await respond(world, rid)
    await deliver(au)
    await deliver(un)
    await pull_until(
        superuser_url, eu, un, "processes", world.process["id"]
    )  # eu takes what it may see, and nothing more
    assert await rows(superuser_url, eu, "SELECT id FROM requests") == []
    assert await rows(superuser_url, eu, "SELECT id FROM request_responses") == []
    assert await eu.owner("SELECT kind FROM federation_messages WHERE kind LIKE 'request.%'") == []
    for slug, node in (("eu", eu), ("au-2", au)):
        headers = world.headers[slug]
        await as_seen(node, headers, rid, 404)
        await call(node, headers, "GET", f"/v1/requests/{rid}/responses", 404)
        assert (await call(node, headers, "GET", "/v1/inbox"))["items"] == []
        assert (await call(node, headers, "GET", "/v1/requests"))["items"] == []
    assert await webhooks(au, "au-2", rid) == []
    # what un sent au's node: au's own request copy, nothing of the requester's sharing
    body = await _copy_of(un, au, rid, rid)
    assert "sharing" not in body
    assert "share_with" not in body


async def test_a_worker_waiting_out_a_long_poll_delivers_a_message_once_it_is_queued(
    peered: list[Node],
) -> None:
    un, au, _ = peered
    slow = replace(un.settings, worker_poll_interval=60)  # no poll fires during this test
    engine = make_engine(slow.database_url, pool_size=2)  # type: ignore[arg-type]
    sessionmaker = make_sessionmaker(engine)
    peer = inbox.Delivery(sessionmaker, slow)
    worker = Worker(sessionmaker, slow, un.app.state.metrics, peer)
    worker.kinds = ["peer"]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await send_note(un, au, "first", key="wakeup-first")
        await until_noted(au, un, "first")
        # the first note's round has claimed: the second can only be claimed when the worker wakes
        await send_note(un, au, "second", key="wakeup-second")
        await until_noted(au, un, "second")
    finally:
        stop.set()
        await running
        await worker.close()
        await peer.close()
        await engine.dispose()


async def until_noted(node: Node, sender: Node, text: str) -> None:
    """Until ``node`` has taken ``sender``'s note ``text``; fails after 30 s, half the poll interval of
    the test above."""
    deadline = time.monotonic() + 30
    while text not in await notes(node, sender):
        assert time.monotonic() < deadline, f"{text!r} not delivered before the poll could have fired"
        await asyncio.sleep(0.05)


async def test_an_offer_from_a_peers_node_is_checked_as_a_local_one_and_refused_with_nothing_written(
    world: World,
) -> None:
    un, au = world.un, world.au
    rid = (await ask(world))["id"]
    await deliver(un)
    theirs = await call(
        un, world.headers["un"], "POST", "/v1/experts", 201, json={"name": "Not au's", "sharing": "network"}
    )
    start = date.today() + timedelta(days=40)
    offer = {
        "request_id": rid,
        "organisation_id": str(await org_id(au, "au")),
        "office_id": world.au_office["id"],
        "kind": "offer",
        "expert_ids": [world.expert["id"]],
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=10)).isoformat(),
        "note": "",
        "reason": "",
    }
    cases = {
        "an expert of another organisation's roster": ({"expert_ids": [theirs["id"]]}, ["experts.0"]),
        "a decline with experts and dates": ({"kind": "decline", "reason": "busy"}, ["experts"]),
        "a decline without a reason": (
            {"kind": "decline", "expert_ids": [], "period_start": None, "period_end": None},
            ["reason"],
        ),
        "a note too long": ({"note": "n" * 2001}, ["note"]),
        "a reason too long": (
            {
                "kind": "decline",
                "expert_ids": [],
                "period_start": None,
                "period_end": None,
                "reason": "r" * 2001,
            },
            ["reason"],
        ),
        "too many experts": ({"expert_ids": [world.expert["id"]] * 21}, ["experts"]),
    }
    for case, (changes, fields) in cases.items():
        body = {**offer, "id": str(uuid4()), **changes}
        answer = await post(au, un, await signed(au, claims(au, un, kind="request.response", body=body)))
        assert answer.status_code == 422, (case, answer.text)
        for field in fields:
            assert field in answer.text, (case, field, answer.text)
        assert await un.owner("SELECT id FROM request_responses WHERE id = $1", UUID(body["id"])) == []
    assert await un.owner("SELECT id FROM request_responses WHERE request_id = $1", UUID(rid)) == []
    assert (await as_seen(un, world.headers["un"], rid))["state"] == "submitted"


async def test_a_copy_naming_an_office_not_the_requesters_or_ids_taken_here_is_refused_with_nothing_written(
    world: World,
) -> None:
    un, au = world.un, world.au
    rid = (await ask(world))["id"]
    await deliver(un)
    await respond(world, rid)
    await deliver(au)
    offered = await un.owner("SELECT id FROM request_responses WHERE request_id = $1", UUID(rid))
    other = (await ask(world))["id"]
    await deliver(un)

    async def sent(sender: Node, to: Node, kind: str, body: dict[str, Any]) -> httpx.Response:
        return await post(sender, to, await signed(sender, claims(sender, to, kind=kind, body=body)))

    # a request of un's filed under au's office (held on au's node, not un's)
    fresh = uuid4()
    copy = await _copy_of(un, au, rid, fresh)
    events = [{**e, "id": str(uuid4())} for e in copy["events"]]
    answer = await sent(
        un, au, "request.sent", {**copy, "events": events, "office_id": world.au_office["id"]}
    )
    assert answer.status_code == 422, answer.text
    assert "office_id" in answer.text
    # a new request whose history reuses the ids of another request's events held here
    taken = uuid4()
    answer = await sent(un, au, "request.sent", await _copy_of(un, au, rid, taken))
    assert answer.status_code == 409, answer.text
    assert "event" in answer.text
    assert await au.owner("SELECT id FROM requests WHERE id = ANY($1::uuid[])", [fresh, taken]) == []
    # an offer on another request under the id of a response held here
    response = {
        "id": str(offered[0]["id"]), "request_id": other, "organisation_id": str(await org_id(au, "au")),
        "office_id": world.au_office["id"], "kind": "offer", "expert_ids": [], "period_start": None,
        "period_end": None, "note": "", "reason": "",
    }  # fmt: skip
    answer = await sent(au, un, "request.response", response)
    assert answer.status_code == 409, answer.text
    assert "response" in answer.text
    assert await un.owner("SELECT id FROM request_responses WHERE request_id = $1", UUID(other)) == []
