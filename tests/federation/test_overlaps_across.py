"""Deconfliction across nodes (issue #21, points 2 and 4), on three live nodes over real HTTP: the home
node of a process coordinates its overlaps from the minimal facts the requesters' nodes send it; the
parties find the case on their own nodes, write, propose and agree across; a withdrawal ends a party's
part; a merge on the home node moves an open case; a third node and a third organisation learn nothing;
forged and bad messages are refused with nothing written. Messages travel through the real outbox
worker and inbox, which the tests run until what they wait for holds (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar.routes import HTTPRoute

from msnet.auth.principal import NODE_SCOPE
from msnet.auth.principal import SCOPES as SCOPES_ALL
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.federation import inbox
from msnet.federation.sync import Puller, metrics_of
from msnet.outbox.worker import Worker
from tests.federation.conftest import Node, down, peer_both
from tests.federation.test_feed import org_headers, settled

pytestmark = pytest.mark.xdist_group("tests/federation/test_overlaps_across.py")  # the module's nodes

SCOPES = ["directory:read", "directory:write", "requests:read", "requests:write"]
TITLE = "Confidential: mediation design for the {} talks"
DESCRIPTION = "Secret detail of the {} request that no coordinator may learn"
T = TypeVar("T")


@dataclass
class World:
    """un, au, eu peered and synced; a client of each organisation on its node; an office of each."""

    nodes: dict[str, Node]
    headers: dict[str, dict[str, str]]
    offices: dict[str, str]

    def node_of(self, slug: str) -> Node:
        return self.nodes[slug.split("-")[0]]


async def call(
    world: World,
    slug: str,
    method: str,
    path: str,
    body: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Any:
    node = world.node_of(slug)
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        response = await http.request(
            method, path, json=body, headers={**world.headers[slug], **(headers or {})}
        )
    assert response.status_code == status, response.text
    return response.json()


@asynccontextmanager
async def worker_of(node: Node) -> AsyncIterator[Worker]:
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


async def deliver(nodes: list[Node]) -> None:
    """Each node's due messages sent (until none is)."""
    for node in nodes:
        async with worker_of(node) as worker:
            while await worker.run_once():
                pass


async def until(world: World, check: Callable[[], Awaitable[T | None]]) -> T:
    """Every node's worker delivering, round after round, until ``check`` answers."""
    async with AsyncExitStack() as stack:
        workers = [await stack.enter_async_context(worker_of(node)) for node in world.nodes.values()]
        for _ in range(10):
            found = await check()
            if found:
                return found
            for worker in workers:
                while await worker.run_once():
                    pass
    raise AssertionError("never came to pass")


async def sync(nodes: list[Node]) -> None:
    """Each node pulls every other's change feed."""
    for node in nodes:
        engine = make_engine(node.settings.database_url, pool_size=3)  # type: ignore[arg-type]
        puller = Puller(make_sessionmaker(engine), node.settings, metrics_of(node.app.state.metrics))
        await puller.keys()
        try:
            for origin in nodes:
                if origin is not node:
                    await settled(origin)
                    await puller.pull(origin.issuer)
        finally:
            await puller.close()
            await engine.dispose()


@pytest.fixture(scope="module")
def world(nodes: list[Node]) -> World:
    un, au, eu = nodes

    async def setup() -> World:
        await peer_both(un, au)
        await peer_both(un, eu)
        await peer_both(au, eu)
        by_name = {n.name: n for n in nodes}
        headers: dict[str, dict[str, str]] = {}
        offices: dict[str, str] = {}
        made = World(by_name, headers, offices)
        for node in nodes:
            for slug in node.orgs:
                headers[slug] = await org_headers(node, slug, SCOPES)
                office = await call(made, slug, "POST", "/v1/offices", {"name": f"{slug.upper()} MSU"}, 201)
                offices[slug] = office["id"]
        await sync(nodes)
        return made

    return asyncio.run(setup())


async def process_on(world: World, slug: str, name: str) -> str:
    """A process proposed by ``slug`` (so homed on its node), replicated to every node."""
    made = await call(world, slug, "POST", "/v1/processes", {"name": name, "countries": ["CF"]}, 201)
    await sync(list(world.nodes.values()))
    return made["id"]


async def submit(world: World, slug: str, process_id: str, start: date, **fields: Any) -> dict[str, Any]:
    """A request of ``slug``'s on the process, addressed to its node's other organisation, submitted."""
    other = f"{slug}-2" if "-" not in slug else slug.split("-")[0]
    body = {
        "process_id": process_id,
        "office_id": world.offices[slug],
        "title": TITLE.format(slug),
        "description": DESCRIPTION.format(slug),
        "service_types": ["process_design"],
        "themes": ["ceasefire_security"],
        "period": {"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
        "languages": ["fr"],
        "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
        "addressees": [world.offices[other]],
        **fields,
    }
    made = await call(world, slug, "POST", "/v1/requests", body, 201)
    return await call(world, slug, "POST", f"/v1/requests/{made['id']}/submit")


async def cases(world: World, slug: str, process_id: str) -> list[dict[str, Any]]:
    page = await call(world, slug, "GET", "/v1/overlaps")
    return [c for c in page["items"] if c["process"]["id"] == process_id]


def case_of(world: World, slug: str, process_id: str, **expected: Any) -> Callable[[], Awaitable[Any]]:
    """A check: ``slug``'s one case on the process, once it has ``expected``."""

    async def check() -> dict[str, Any] | None:
        found = await cases(world, slug, process_id)
        if len(found) == 1 and all(found[0][k] == v for k, v in expected.items()):
            return found[0]
        return None

    return check


def proposal_on(world: World, slug: str, process_id: str) -> Callable[[], Awaitable[Any]]:
    """A check: the open proposal of ``slug``'s one case on the process, once there is one."""

    async def check() -> dict[str, Any] | None:
        found = await cases(world, slug, process_id)
        return found[0]["proposal"] if found else None

    return check


async def start_of(n: int) -> date:
    return date.today() + timedelta(days=30 + 200 * n)


async def holding(node: Node, text: str) -> list[str]:
    """The tables of ``node``'s database that hold ``text`` anywhere in a row."""
    conn = await asyncpg.connect(node.admin_url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        found = []
        for (table,) in tables:
            if await conn.fetch(f'SELECT 1 FROM "{table}" t WHERE t::text ILIKE $1 LIMIT 1', f"%{text}%"):
                found.append(table)
        return found
    finally:
        await conn.close()


async def audit(node: Node, action: str) -> list[dict[str, Any]]:
    rows = await node.owner(
        "SELECT a.actor, o.slug FROM audit_log a JOIN organisations o ON o.id = a.organisation_id "
        "WHERE a.action = $1 ORDER BY a.seq",
        action,
    )
    return [dict(r) for r in rows]


async def test_two_nodes_find_the_case_at_once_and_the_coordinator_keeps_only_the_facts(world: World) -> None:
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "un", "Process homed on un")
    start = await start_of(0)
    asked_au = await submit(world, "au", process, start)
    asked_eu = await submit(world, "eu", process, start + timedelta(days=10))

    on_au = await until(world, case_of(world, "au", process))
    on_eu = await until(world, case_of(world, "eu", process))
    assert on_au["id"] == on_eu["id"]
    for seen, mine, theirs in ((on_au, "au", "eu"), (on_eu, "eu", "au")):
        assert seen["organisations"] == ["au", "eu"]
        assert seen["service_types"] == ["process_design"]
        assert seen["period"] == {
            "start": (start + timedelta(days=10)).isoformat(),
            "end": (start + timedelta(days=60)).isoformat(),
        }
        members = {m["organisation"]: m for m in seen["members"]}
        assert members[mine]["request_id"] == (asked_au if mine == "au" else asked_eu)["id"]
        assert members[theirs]["request_id"] is None
        assert members[theirs]["description"] is None
    requests = await call(world, "au", "GET", f"/v1/requests/{asked_au['id']}")
    assert requests["overlap_cases"] == [on_au["id"]]

    # the coordinator keeps, per request, the organisation, process, period, service types and a reference
    facts = await un.owner("SELECT * FROM overlap_facts ORDER BY period_start")
    assert [set(f.keys()) for f in facts] == [
        {"reference", "organisation_id", "peer_id", "process_id", "period_start", "period_end",
         "service_types", "step", "received_at"}
    ] * 2  # fmt: skip
    assert [(f["process_id"], f["service_types"], f["period_start"]) for f in facts] == [
        (UUID(process), ["process_design"], start),
        (UUID(process), ["process_design"], start + timedelta(days=10)),
    ]
    assert {f["reference"] for f in facts}.isdisjoint({UUID(asked_au["id"]), UUID(asked_eu["id"])})
    for secret in (asked_au["id"], asked_eu["id"], "Confidential", "Secret detail", "ceasefire_security"):
        assert await holding(un, secret) == []
    assert (await un.owner("SELECT count(*) AS n FROM requests"))[0]["n"] == 0
    # neither party's node holds the other's request, title or description
    assert await holding(au, asked_eu["id"]) == []
    assert await holding(au, TITLE.format("eu")) == []
    assert await holding(eu, asked_au["id"]) == []
    assert await holding(eu, DESCRIPTION.format("au")) == []
    # audited on both sides: sent by the requester, taken by the coordinator naming the node and organisation
    assert [a["slug"] for a in await audit(au, "overlap.facts.sent")][-1:] == ["au"]
    received = await audit(un, "overlap.facts.received")
    assert {(a["actor"], a["slug"]) for a in received} >= {
        (f"node:{au.issuer}#au", "au"),
        (f"node:{eu.issuer}#eu", "eu"),
    }
    assert {a["actor"] for a in await audit(au, "overlap.case.received")} == {f"node:{un.issuer}#un"}


async def test_messages_proposals_and_agreement_travel_between_the_parties_only(world: World) -> None:
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "au", "Process homed on au")
    start = await start_of(1)
    await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    # a third organisation, on the third node, has another request on the same process (no overlap)
    await submit(world, "un", process, start + timedelta(days=100), service_types=["capacity_building"])
    case = await until(world, case_of(world, "eu", process))
    assert (await until(world, case_of(world, "au", process)))["id"] == case["id"]

    said = await call(
        world, "eu", "POST", f"/v1/overlaps/{case['id']}/messages", {"body": "Shall we talk?"}, 201
    )

    async def message_on_au() -> list[dict[str, Any]] | None:
        page = await call(world, "au", "GET", f"/v1/overlaps/{case['id']}/messages")
        return page["items"] or None

    assert [(m["id"], m["organisation"], m["body"]) for m in await until(world, message_on_au)] == [
        (said["id"], "eu", "Shall we talk?")
    ]
    proposed = await call(
        world, "au", "POST", f"/v1/overlaps/{case['id']}/resolution",
        {"kind": "complementary", "note": "AU designs, EU supports inclusion"}, 201,
    )  # fmt: skip
    proposal = proposed["proposal"]["id"]
    # the coordinator's own request's addressee (au-2) is a party, as on a single node
    assert proposed["organisations"] == ["au", "au-2", "eu"]

    on_eu = await until(world, proposal_on(world, "eu", process))
    assert on_eu["id"] == proposal
    assert (on_eu["kind"], on_eu["proposed_by"], on_eu["note"]) == (
        "complementary", "au", "AU designs, EU supports inclusion",
    )  # fmt: skip
    assert on_eu["awaiting"] == ["au-2", "eu"]
    await call(world, "eu", "POST", f"/v1/overlaps/{case['id']}/resolution", {"agree": proposal})
    await call(world, "au-2", "POST", f"/v1/overlaps/{case['id']}/resolution", {"agree": proposal})
    for slug in ("au", "eu"):
        resolved = await until(world, case_of(world, slug, process, status="resolved"))
        assert resolved["resolution"]["id"] == proposal
        assert resolved["resolution"]["agreed_by"] == ["au", "au-2", "eu"]
    # audited on the receiving node with the writing node and organisation as the actor
    assert [a["actor"] for a in await audit(au, "overlap.message")] == [f"node:{eu.issuer}#eu"]
    assert [a["actor"] for a in await audit(eu, "overlap.propose")] == [f"node:{au.issuer}#au"]
    assert [a["actor"] for a in await audit(eu, "overlap.agree")][1:] == [f"node:{au.issuer}#au-2"]
    assert f"node:{eu.issuer}#eu" in [a["actor"] for a in await audit(au, "overlap.agree")]

    # the third node (home of a third party's other request on the process) learns nothing of the case
    assert await cases(world, "un", process) == []
    for text in (case["id"], "Shall we talk?", "AU designs", proposal):
        assert await holding(un, text) == []
    for slug in ("un", "un-2", "eu-2"):
        node = world.node_of(slug)
        async with httpx.AsyncClient(base_url=node.issuer) as http:
            got = await http.get(f"/v1/overlaps/{case['id']}", headers=world.headers[slug])
        assert got.status_code == 404, (slug, got.text)


async def test_a_withdrawal_ends_its_part_of_the_case(world: World) -> None:
    un, au = world.nodes["un"], world.nodes["au"]
    process = await process_on(world, "un", "Withdrawal process")
    start = await start_of(2)
    leaving = await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    case = await until(world, case_of(world, "eu", process))
    await until(world, case_of(world, "au", process))

    await call(world, "au", "POST", f"/v1/requests/{leaving['id']}/withdraw")
    ended = await until(world, case_of(world, "eu", process, status="resolved", organisations=["eu"]))
    assert [m["organisation"] for m in ended["members"]] == ["eu"]

    async def gone_on_au() -> bool:
        return await cases(world, "au", process) == []

    assert await until(world, gone_on_au)
    facts = await un.owner("SELECT organisation_id FROM overlap_facts WHERE process_id = $1", UUID(process))
    assert len(facts) == 1  # eu's, still open; au's is gone
    assert [a["actor"] for a in await audit(un, "overlap.left.received")] == [f"node:{au.issuer}#au"]
    assert case["id"] == ended["id"]


async def test_a_request_moved_to_a_process_homed_elsewhere_leaves_the_first_coordinator(
    world: World,
) -> None:
    un = world.nodes["un"]
    first = await process_on(world, "un", "Process the request leaves")
    second = await process_on(world, "au", "Process the request moves to")
    asked = await submit(world, "au", first, await start_of(5))

    async def facts_on_un() -> int:
        found = await un.owner("SELECT count(*) AS n FROM overlap_facts WHERE process_id = $1", UUID(first))
        return found[0]["n"]

    assert await until(world, facts_on_un) == 1
    await call(
        world, "au", "PATCH", f"/v1/requests/{asked['id']}", {"process_id": second},
        headers={"If-Match": f'"{asked["version"]}"'},
    )  # fmt: skip

    async def gone_from_un() -> bool:
        return await facts_on_un() == 0

    assert await until(world, gone_from_un)


async def test_a_merge_on_the_home_node_moves_the_open_case(world: World) -> None:
    process = await process_on(world, "un", "Duplicate process")
    target = await process_on(world, "un", "Process it duplicates")
    start = await start_of(3)
    await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    case = await until(world, case_of(world, "au", process))
    await until(world, case_of(world, "eu", process))

    await call(world, "un", "POST", f"/v1/processes/{process}/merge", {"into": target})
    await sync(list(world.nodes.values()))
    for slug in ("au", "eu"):
        moved = await until(world, case_of(world, slug, target))
        assert moved["id"] == case["id"]
        assert moved["status"] == "open"
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    rows = await un.owner("SELECT process_id, status FROM overlap_cases WHERE id = $1", UUID(case["id"]))
    assert [tuple(r) for r in rows] == [(UUID(target), "open")]

    # settled by the parties: the coordinator learns that it is (not how), and joins no one to it
    made = await call(world, "au", "POST", f"/v1/overlaps/{case['id']}/resolution", {"kind": "merge"}, 201)
    await until(world, proposal_on(world, "eu", target))
    await call(
        world, "eu", "POST", f"/v1/overlaps/{case['id']}/resolution", {"agree": made["proposal"]["id"]}
    )

    async def settled_on_un() -> bool:
        found = await un.owner("SELECT status FROM overlap_cases WHERE id = $1", UUID(case["id"]))
        return found[0]["status"] == "resolved"

    assert await until(world, settled_on_un)
    assert sorted(a["actor"] for a in await audit(un, "overlap.settled.received")) == sorted(
        [f"node:{au.issuer}#au", f"node:{eu.issuer}#eu"]
    )
    assert await holding(un, made["proposal"]["id"]) == []
    later = await submit(world, "eu-2", target, start)
    fresh = await until(world, case_of(world, "eu-2", target))
    assert fresh["id"] != case["id"]
    assert later["id"] in [m["request_id"] for m in fresh["members"]]


async def test_a_coordinator_down_when_requests_are_submitted_tells_both_once_back(world: World) -> None:
    un = world.nodes["un"]
    process = await process_on(world, "un", "Process of a node that goes down")
    start = await start_of(4)
    with down(un):
        await submit(world, "au", process, start)
        await submit(world, "eu", process, start)
        assert await cases(world, "au", process) == []
    case = await until(world, case_of(world, "au", process))
    assert (await until(world, case_of(world, "eu", process)))["id"] == case["id"]


async def refused(sender: Node, to: Node, kind: str, body: dict[str, Any], organisation: str) -> str:
    """``body`` sent as ``kind`` from ``sender`` to ``to`` through the real outbox: the problem it got."""
    org = (await sender.owner("SELECT id FROM organisations WHERE slug = $1", organisation))[0]["id"]
    async with sender.session() as session:
        message_id = await inbox.send(
            session, to=to.issuer, kind=kind, key=str(uuid4()), body=body, organisation=org
        )
    await deliver([sender])
    rows = await sender.owner(
        "SELECT delivered_at, last_error FROM outbox_messages WHERE id = $1", message_id
    )
    assert rows[0]["delivered_at"] is None, rows
    return rows[0]["last_error"]


async def test_forged_and_bad_messages_are_refused_with_nothing_written(world: World) -> None:
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "un", "Forgery process")
    counts = "SELECT (SELECT count(*) FROM overlap_facts) + (SELECT count(*) FROM overlap_cases) AS n"
    before = {n.name: (await n.owner(counts))[0]["n"] for n in (un, au, eu)}
    facts = {
        "reference": str(uuid4()),
        "organisation": "au",
        "process_id": process,
        "period": {"start": "2027-03-01", "end": "2027-06-30"},
        "service_types": ["process_design"],
        "step": 1,
    }
    # eu claims au's request
    assert "au" in await refused(eu, un, "overlap.facts", facts, "eu")
    # bad fields, each named
    bad = {**facts, "organisation": "eu", "period": {"start": "2027-06-30", "end": "2027-03-01"},
           "service_types": ["no_such_service"]}  # fmt: skip
    problem = await refused(eu, un, "overlap.facts", bad, "eu")
    assert "service_types.0" in problem
    assert "(and 1 more" in problem  # period.end
    assert "title" in await refused(
        eu, un, "overlap.facts", {**facts, "organisation": "eu", "title": "x"}, "eu"
    )
    # facts for a process the receiver is not the home of
    assert "process_id" in await refused(eu, au, "overlap.facts", {**facts, "organisation": "eu"}, "eu")
    # a case notice from a node that is not the process's home, naming a request au never told anyone
    au_id = (await au.owner("SELECT id FROM organisations WHERE slug = 'au'"))[0]["id"]
    eu_id = (await au.owner("SELECT id FROM organisations WHERE slug = 'eu'"))[0]["id"]
    notice = {
        "organisation": "eu", "id": str(uuid4()), "process_id": process, "status": "open", "version": 1,
        "parties": [str(au_id), str(eu_id)], "period_start": "2027-03-01", "period_end": "2027-06-30",
        "service_types": ["process_design"], "themes": [],
        "members": [
            {"position": 1, "organisation_id": str(au_id), "parties": [str(au_id)], "node": None,
             "reference": str(uuid4())},
            {"position": 2, "organisation_id": str(eu_id), "parties": [str(eu_id)], "node": None,
             "reference": str(uuid4())},
        ],
        "pairs": [{"a": 1, "b": 2, "period_start": "2027-03-01", "period_end": "2027-06-30",
                   "service_types": ["process_design"], "themes": []}],
    }  # fmt: skip
    assert "homed on" in await refused(eu, au, "overlap.case", notice, "eu")
    assert "members.0.reference" in await refused(
        un, au, "overlap.case", {**notice, "organisation": "un"}, "un"
    )
    # a message for a case the sender's organisation is no party to
    message = {"organisation": "eu", "case_id": notice["id"], "id": str(uuid4()), "body": "hello"}
    assert "no overlap case" in await refused(eu, au, "overlap.message", message, "eu")
    after = {n.name: (await n.owner(counts))[0]["n"] for n in (un, au, eu)}
    assert after == before


async def test_the_coordinator_resolves_a_case_only_once_every_partys_node_has_settled(world: World) -> None:
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "un", "Process every party settles")
    start = await start_of(6)
    await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    case = await until(world, case_of(world, "au", process))
    await until(world, case_of(world, "eu", process))
    status = "SELECT status FROM overlap_cases WHERE id = $1"
    received = (
        "SELECT a.actor FROM audit_log a WHERE a.action = 'overlap.settled.received' AND a.resource_id = $1 "
        "ORDER BY a.seq"
    )

    # eu's node says, by itself, that the case is settled: the coordinator records it, the case stays open
    async with eu.session() as session:
        eu_id = (await eu.owner("SELECT id FROM organisations WHERE slug = 'eu'"))[0]["id"]
        await inbox.send(
            session, to=un.issuer, kind="overlap.settled", key=str(uuid4()),
            body={"organisation": "eu", "case_id": case["id"]}, organisation=eu_id,
        )  # fmt: skip
    await deliver([eu])
    assert [r["actor"] for r in await un.owner(received, case["id"])] == [f"node:{eu.issuer}#eu"]
    assert [r["status"] for r in await un.owner(status, UUID(case["id"]))] == ["open"]

    # both parties agree: each party's node reports, and only then is the case resolved there
    made = await call(world, "au", "POST", f"/v1/overlaps/{case['id']}/resolution", {"kind": "merge"}, 201)
    await until(world, proposal_on(world, "eu", process))
    await call(
        world, "eu", "POST", f"/v1/overlaps/{case['id']}/resolution", {"agree": made["proposal"]["id"]}
    )

    async def resolved_on_un() -> bool:
        return [r["status"] for r in await un.owner(status, UUID(case["id"]))] == ["resolved"]

    assert await until(world, resolved_on_un)
    assert {r["actor"] for r in await un.owner(received, case["id"])} == {
        f"node:{au.issuer}#au",
        f"node:{eu.issuer}#eu",
    }


async def test_a_third_node_and_another_organisation_see_nothing_of_a_request_case_or_message_on_any_get(
    world: World,
) -> None:
    """Every GET of the JSON API, taken from the app's route table (a route added later is walked
    too), as eu on its node and as au-2 on au, with every scope an organisation may hold: none of what
    un and au exchanged (a request each way, their case and its messages) shows in any answer; the
    same walk as un finds each of them, so the walk does reach them."""
    un = world.nodes["un"]
    process = await process_on(world, "au", "Process of the isolation walk")
    start = await start_of(7)
    marker = uuid4().hex
    texts = {slug: f"Isolation {marker} {slug}: confidential {uuid4().hex}" for slug in ("un", "au")}
    sent = {
        slug: await submit(
            world,
            slug,
            process,
            start,
            title=texts[slug],
            description=f"{texts[slug]} detail",
            addressees=[world.offices["au" if slug == "un" else "un"]],
        )
        for slug in ("un", "au")
    }
    case = await until(world, case_of(world, "au", process))
    assert (await until(world, case_of(world, "un", process)))["id"] == case["id"]
    words = {slug: f"Between un and au only {uuid4().hex}" for slug in ("un", "au")}
    said = [
        await call(world, slug, "POST", f"/v1/overlaps/{case['id']}/messages", {"body": words[slug]}, 201)
        for slug in ("un", "au")
    ]

    async def said_on(slug: str) -> bool:
        page = await call(world, slug, "GET", f"/v1/overlaps/{case['id']}/messages")
        return {m["body"] for m in page["items"]} == set(words.values())

    await until(world, lambda: said_on("un"))
    await until(world, lambda: said_on("au"))
    ids = [sent["un"]["id"], sent["au"]["id"], case["id"], *(m["id"] for m in said)]
    secrets = [*ids, *texts.values(), *words.values(), marker]
    scopes = [s for s in SCOPES_ALL if s != NODE_SCOPE]

    async def walk(node: Node, slug: str) -> dict[str, str]:
        """Every GET of /v1 as ``slug`` on ``node``: each answer's text by its URL; a record's path once
        with each of ``ids`` (and the caller's own slug), a list once plain and once with every filter
        it has that could name what was exchanged."""
        headers = await org_headers(node, slug, scopes)
        probes = {
            "q": marker,
            "process_id": process,
            "resource_id": sent["un"]["id"],
            "office_id": world.offices["au"],
        }
        answers: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=node.issuer, headers=headers) as http:
            for route in node.app.routes:
                handler = route.route_handler_map.get("GET") if isinstance(route, HTTPRoute) else None
                if handler is None or not route.path.startswith("/v1/"):
                    continue
                path = route.path.replace("{slug:str}", slug)
                urls = [re.sub(r"{\w+:uuid}", i, path) for i in ids] if ":uuid}" in path else [path]
                taken = handler[0].parsed_fn_signature.parameters
                query = {k: v for k, v in probes.items() if k in taken and f"{{{k}:" not in route.path}
                for url in urls:
                    for params in ({}, query) if query else ({},):
                        response = await http.get(url, params=params)
                        answers[f"{url}?{urlencode(params)} {response.status_code}"] = response.text
        return answers

    walked = 0
    for slug in ("eu", "au-2"):
        answers = await walk(world.node_of(slug), slug)
        walked = len(answers)
        leaks = [
            (url, secret)
            for url, text in answers.items()
            for secret in secrets
            if secret in text and secret not in url.split("?")[0]  # a 404 may name the id it was asked for
        ]
        assert leaks == [], (slug, leaks)
    assert walked >= 40  # the route table's GETs were walked, not an empty list
    seen_by_un = "\n".join((await walk(un, "un")).values())
    assert [s for s in secrets if s not in seen_by_un] == []


async def test_a_coordinator_hosting_a_party_keeps_the_case_open_until_its_own_parties_agree(
    world: World,
) -> None:
    au, eu = world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "au", "Process whose home is a party")
    start = await start_of(7)
    await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    case = await until(world, case_of(world, "eu", process))
    await until(world, case_of(world, "au", process))
    status = "SELECT status FROM overlap_cases WHERE id = $1"
    # eu's node says the case is settled before anyone agreed: au (coordinator and party) keeps it open
    eu_id = (await eu.owner("SELECT id FROM organisations WHERE slug = 'eu'"))[0]["id"]
    async with eu.session() as session:
        await inbox.send(
            session, to=au.issuer, kind="overlap.settled", key=str(uuid4()),
            body={"organisation": "eu", "case_id": case["id"]}, organisation=eu_id,
        )  # fmt: skip
    await deliver([eu])
    received = await au.owner(
        "SELECT actor FROM audit_log WHERE action = 'overlap.settled.received' AND resource_id = $1",
        case["id"],
    )
    assert [r["actor"] for r in received] == [f"node:{eu.issuer}#eu"]
    assert [r["status"] for r in await au.owner(status, UUID(case["id"]))] == ["open"]
    on_au = await call(world, "au", "GET", f"/v1/overlaps/{case['id']}")
    assert on_au["status"] == "open"


@pytest.mark.parametrize(
    ("proposer", "last"),
    [("au", "eu"), ("eu", "au")],
    ids=["agreed-last-on-the-other-node", "agreed-last-on-the-withdrawn-requests-node"],
)
async def test_an_agreed_withdrawal_ends_its_part_of_the_case_as_a_withdrawal_does(
    world: World, proposer: str, last: str
) -> None:
    un, au, eu = world.nodes["un"], world.nodes["au"], world.nodes["eu"]
    process = await process_on(world, "un", f"Agreed withdrawal process, proposed by {proposer}")
    start = await start_of(8 if proposer == "au" else 9)
    leaving = await submit(world, "au", process, start)
    await submit(world, "eu", process, start)
    case = await until(world, case_of(world, "eu", process))
    on_au = await until(world, case_of(world, "au", process))
    member = next(m["position"] for m in on_au["members"] if m["request_id"] == leaving["id"])
    left_before = len(await audit(un, "overlap.left.received"))

    proposed = await call(
        world, proposer, "POST", f"/v1/overlaps/{case['id']}/resolution",
        {"kind": "withdraw", "member": member}, 201,
    )  # fmt: skip
    await until(world, proposal_on(world, last, process))
    agreed = {"agree": proposed["proposal"]["id"]}
    await call(world, last, "POST", f"/v1/overlaps/{case['id']}/resolution", agreed)

    async def cancelled() -> dict[str, Any] | None:
        request = await call(world, "au", "GET", f"/v1/requests/{leaving['id']}")
        return request if request["state"] == "cancelled" else None

    assert (await until(world, cancelled))["history"][-1]["note"] == (
        f"withdrawn by the resolution of overlap case {case['id']}"
    )

    async def forgotten() -> list[Any] | None:
        facts = await un.owner(
            "SELECT organisation_id FROM overlap_facts WHERE process_id = $1", UUID(process)
        )
        return facts if len(facts) == 1 else None

    facts = await until(world, forgotten)  # eu's, still open; au's is gone, as after a withdrawal
    eu_id = (await un.owner("SELECT id FROM organisations WHERE slug = 'eu'"))[0]["id"]
    assert [f["organisation_id"] for f in facts] == [eu_id]
    assert [a["actor"] for a in await audit(un, "overlap.left.received")][left_before:] == [
        f"node:{au.issuer}#au"
    ]
    # the coordinator took the request out of the case, which a single organisation left resolves
    members = await un.owner(
        "SELECT organisation_id FROM overlap_members WHERE case_id = $1", UUID(case["id"])
    )
    assert [m["organisation_id"] for m in members] == [eu_id]
    held = await un.owner("SELECT status, parties FROM overlap_cases WHERE id = $1", UUID(case["id"]))
    assert [(h["status"], h["parties"]) for h in held] == [("resolved", [eu_id])]
    # au's node said it left, not that it settled: the coordinator refused nothing
    settled = await un.owner(
        "SELECT actor FROM audit_log WHERE action = 'overlap.settled.received' AND resource_id = $1",
        case["id"],
    )
    assert [s["actor"] for s in settled] == [f"node:{eu.issuer}#eu"]
    told = "SELECT count(*) AS n FROM outbox_messages WHERE payload ->> 'kind' = $1 AND payload ->> 'subject' = $2"
    assert (await au.owner(told, "overlap.settled", case["id"]))[0]["n"] == 0

    # eu sees the case resolved by the withdrawal agreed, without au's request; au no longer sees it
    seen = await until(world, case_of(world, "eu", process, organisations=["eu"]))
    assert (seen["status"], [m["organisation"] for m in seen["members"]]) == ("resolved", ["eu"])
    assert await call(world, "eu", "GET", f"/v1/overlaps/{case['id']}") == seen
    resolution = seen["resolution"]
    assert (resolution["id"], resolution["kind"], resolution["member"]) == (
        proposed["proposal"]["id"], "withdraw", member,
    )  # fmt: skip
    assert (resolution["proposed_by"], resolution["agreed_by"]) == (proposer, ["au", "eu"])

    async def gone_on_au() -> bool:
        return await cases(world, "au", process) == []

    assert await until(world, gone_on_au)
