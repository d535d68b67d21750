"""Records held from a peer node (issue #20 point 5), over real HTTP between live nodes: they are
found as local ones are (lists, searches, facets, the trainings' calendar and feed), with their
``origin``; every write to one answers 409 naming its home node, and changes nothing; a contact
lookup names the node to ask; an organisation sees no copy that is not shared with it."""

from __future__ import annotations

import asyncio
from typing import Any

import feedparser
import httpx
import icalendar
import pytest
from joserfc.jwk import KeySet
from sqlalchemy import select

from msnet.federation.apply import apply_page
from msnet.federation.client import PeerClient
from msnet.federation.models import Peer
from tests.federation.conftest import Node, peer_both
from tests.helpers import add_client, assert_every_case, bearer
from tests.processes.test_registry import process_body
from tests.roster.conftest import expert_body
from tests.training.conftest import publication_body, training_body

pytestmark = pytest.mark.xdist_group("tests/federation/test_replicas.py")  # the module's nodes, made once

SCOPES = [
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "roster:contact",
    "requests:read",
    "requests:write",
    "training:read",
    "training:write",
    "audit:read",
]
RESTRICTED = "Office shared with UN only"


async def org_headers(node: Node, slug: str) -> dict[str, str]:
    created = await add_client(node.settings, slug, SCOPES)
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client_id, created.client_secret),
        )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def call(node: Node, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        return await http.request(method, path, headers=headers, **kwargs)


async def made(node: Node, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await call(node, "POST", path, headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def settled(node: Node) -> None:
    """Until every transaction begun before now has ended (the feed reads below the oldest one
    still running in the cluster)."""
    rows = await node.owner("SELECT pg_current_xact_id()::text::bigint AS now")
    for _ in range(600):
        horizon = await node.owner("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS h")
        if horizon[0]["h"] > rows[0]["now"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction in the cluster has been running for 30 s")


async def pull(reader: Node, origin: Node) -> None:
    """``origin``'s feed read by ``reader`` over HTTP, from the start, and applied to its database
    as the pull does it (the nodes' own worker is off)."""
    await settled(origin)
    items: list[str] = []
    cursor: str | None = None
    async with PeerClient(reader.settings, await reader.key_ring(), origin.issuer) as client:
        while True:
            response = await client.get("/federation/v1/changes", {"cursor": cursor} if cursor else {})
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["more"]:
                break
    async with reader.session() as session:
        jwks = await session.scalar(select(Peer.jwks).where(Peer.issuer == origin.issuer))
        await apply_page(session, origin.issuer, items, KeySet.import_key_set(jwks))


@pytest.fixture(scope="module")
def network(nodes: list[Node]) -> dict[str, Any]:
    """au (the origin) peered with un and with eu. au's organisation 'au' shares one record of each
    kind with the network, and an office with 'un' only; un and eu pull au's feed. Returns the
    records as au made them, and tokens of un's, un-2's and eu's organisations."""
    un, au, eu = nodes

    async def setup() -> dict[str, Any]:
        await peer_both(un, au)
        await peer_both(eu, au)
        home = await org_headers(au, "au")
        office = await made(au, home, "/v1/offices", {"name": "AU Mediation Support Unit"})
        records = {
            "office": office,
            "capacity": await made(
                au,
                home,
                f"/v1/offices/{office['id']}/capacities",
                {"service_type": "process_design", "themes": ["ceasefire_security"]},
            ),
            "expert": await made(au, home, "/v1/experts", expert_body(name="Amina Replicated")),
            "process": await made(au, home, "/v1/processes", process_body(name="Sahel replicated talks")),
            "training": await made(
                au, home, "/v1/trainings", training_body(title="Replicated design course")
            ),
            "publication": await made(
                au, home, "/v1/publications", publication_body(title="Replicated guidance")
            ),
            "restricted": await made(
                au, home, "/v1/offices", {"name": RESTRICTED, "sharing": "restricted", "share_with": ["un"]}
            ),
        }
        await pull(un, au)
        await pull(eu, au)
        return {
            "records": records,
            "un": await org_headers(un, "un"),
            "un-2": await org_headers(un, "un-2"),
            "eu": await org_headers(eu, "eu"),
        }

    return asyncio.run(setup())


PATHS = {
    "office": "/v1/offices",
    "capacity": "/v1/capacities",
    "expert": "/v1/experts",
    "process": "/v1/processes",
    "training": "/v1/trainings",
    "publication": "/v1/publications",
    "restricted": "/v1/offices",
}


async def test_every_write_to_a_copy_is_409_naming_its_home_and_changes_nothing(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    un, au, _ = nodes
    records, headers = network["records"], network["un"]
    local = await made(un, headers, "/v1/processes", process_body(name="UN entry of the Sahel talks"))

    def url(kind: str, tail: str = "") -> str:
        return f"{PATHS[kind]}/{records[kind]['id']}{tail}"

    fresh = {"If-Match": '"1"'}
    cases: list[tuple[str, str, str, Any, dict[str, str]]] = [
        ("change an office", "PATCH", url("office"), {"name": "Renamed"}, fresh),
        (
            "change an office, stale If-Match",
            "PATCH",
            url("office"),
            {"name": "Renamed"},
            {"If-Match": '"7"'},
        ),
        ("delete an office", "DELETE", url("office"), None, fresh),
        (
            "add a capacity to an office",
            "POST",
            url("office", "/capacities"),
            {"service_type": "process_design"},
            {},
        ),
        ("change a capacity", "PATCH", url("capacity"), {"notes": "changed"}, fresh),
        ("confirm a capacity", "POST", url("capacity", "/confirm"), None, {}),
        ("delete a capacity", "DELETE", url("capacity"), None, fresh),
        ("change an expert", "PATCH", url("expert"), {"bio": "changed"}, fresh),
        ("erase an expert", "DELETE", url("expert"), None, fresh),
        ("change a process", "PATCH", url("process"), {"name": "Renamed"}, fresh),
        ("merge a process into a local one", "POST", url("process", "/merge"), {"into": local["id"]}, fresh),
        ("change a training", "PATCH", url("training"), {"title": "Renamed"}, fresh),
        ("delete a training", "DELETE", url("training"), None, fresh),
        ("change a publication", "PATCH", url("publication"), {"title": "Renamed"}, fresh),
        ("delete a publication", "DELETE", url("publication"), None, fresh),
        ("change an office shared with un", "PATCH", url("restricted"), {"name": "Renamed"}, fresh),
    ]

    async def state() -> dict[str, Any]:
        """Every record as un's organisation reads it (a capacity through its office's list)."""
        now = {}
        for kind in records:
            path = f"/v1/offices/{records['office']['id']}/capacities" if kind == "capacity" else url(kind)
            response = await call(un, "GET", path, headers)
            assert response.status_code == 200, (kind, response.text)
            now[kind] = response.json()
        return now

    async def written() -> list[Any]:
        """How many changes to records, tombstones and audit entries un holds: any write adds one."""
        rows = await un.owner(
            "SELECT (SELECT count(*) FROM change_log) AS changes, (SELECT count(*) FROM tombstones) AS gone,"
            " (SELECT count(*) FROM audit_log) AS audited"
        )
        return list(rows[0].values())

    before, counts = await state(), await written()

    async def check(method: str, path: str, body: Any, extra: dict[str, str]) -> None:
        response = await call(un, method, path, {**headers, **extra}, json=body)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert problem["home_node"] == au.issuer, problem
        assert au.issuer in problem["detail"], problem
        assert await written() == counts

    await assert_every_case(cases, check)
    assert await state() == before
    assert [c["id"] for c in before["capacity"]["items"]] == [records["capacity"]["id"]]
    # the merge left the local process as it was; the home node still holds every record as made
    assert (await call(un, "GET", f"/v1/processes/{local['id']}", headers)).json() == local
    home = await org_headers(au, "au")
    for kind, record in records.items():
        if kind != "capacity":
            assert (await call(au, "GET", url(kind), home)).json()["version"] == record["version"] == 1, kind


async def test_copies_are_listed_searched_and_counted_with_their_origin(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    un, au, eu = nodes
    records = network["records"]
    for node, headers in ((un, network["un"]), (eu, network["eu"])):
        for kind, path, words in (
            ("office", "/v1/offices", "AU Mediation Support Unit"),
            ("capacity", "/v1/capacities", None),
            ("expert", "/v1/experts", "Amina Replicated"),
            ("process", "/v1/processes", "Sahel replicated talks"),
            ("training", "/v1/trainings", "Replicated design course"),
            ("publication", "/v1/publications", "Replicated guidance"),
        ):
            params = {"q": words} if words else {"organisation": "au"}
            response = await call(node, "GET", path, headers, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            found = {item["id"]: item for item in page["items"]}
            assert records[kind]["id"] in found, (node.name, kind, page)
            assert found[records[kind]["id"]]["origin"] == au.issuer
            assert found[records[kind]["id"]]["organisation"] == "au"
            if kind != "capacity":
                one = await call(node, "GET", f"{path}/{records[kind]['id']}", headers)
                assert one.json()["origin"] == au.issuer
        # facets count the copies as they count local records
        experts = (
            await call(node, "GET", "/v1/experts", headers, params={"theme": "ceasefire_security"})
        ).json()
        assert experts["total"] == 1
        assert experts["facets"]["theme"]["ceasefire_security"] == 1, experts["facets"]
        capacities = (
            await call(node, "GET", "/v1/capacities", headers, params={"service_type": "process_design"})
        ).json()
        assert capacities["facets"]["theme"]["ceasefire_security"] == 1, capacities["facets"]


async def test_the_trainings_calendar_and_feed_carry_copies(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    un, au, _ = nodes
    training = network["records"]["training"]
    headers = network["un"]
    ics = await call(un, "GET", "/v1/trainings.ics", headers)
    assert ics.status_code == 200, ics.text
    events = {str(e["summary"]): e for e in icalendar.Calendar.from_ical(ics.content).walk("VEVENT")}
    event = events["Replicated design course"]
    # the same event as in its home node's calendar
    home = await call(au, "GET", "/v1/trainings.ics", await org_headers(au, "au"))
    assert str(event["uid"]) in {
        str(e["uid"]) for e in icalendar.Calendar.from_ical(home.content).walk("VEVENT")
    }
    assert str(event["uid"]).startswith(training["id"])
    atom = await call(un, "GET", "/v1/trainings.atom", headers)
    assert atom.status_code == 200, atom.text
    entries = {e.title: e for e in feedparser.parse(atom.content).entries}
    entry = entries["Replicated design course"]
    assert entry.id == f"urn:uuid:{training['id']}"
    # a copy's entry names its home node's feed as its source; a local one has none
    assert entry.source.links[0].href == f"{au.issuer}/v1/trainings.atom", entry.source


async def audited(node: Node, expert_id: str) -> list[tuple[str, str, str]]:
    """(organisation, action, actor) of the audit entries about ``expert_id`` on ``node``."""
    rows = await node.owner(
        "SELECT o.slug, a.action, a.actor FROM audit_log a JOIN organisations o ON o.id = a.organisation_id"
        " WHERE a.resource_id = $1 ORDER BY a.seq",
        expert_id,
    )
    return [(r["slug"], r["action"], r["actor"]) for r in rows]


async def test_a_contact_lookup_on_a_copy_is_asked_of_its_home_as_the_organisation_and_audited_on_both(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    un, au, _ = nodes
    expert = network["records"]["expert"]
    response = await call(un, "GET", f"/v1/experts/{expert['id']}/contact", network["un"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "expert_id": expert["id"],
        "email": "amina@example.org",
        "phone": "+223 20 00 00 00",
    }
    # the details are not kept on the reader's node
    assert await un.owner("SELECT * FROM expert_contacts WHERE expert_id = $1", expert["id"]) == []
    reader = await audited(un, expert["id"])
    assert [(slug, action) for slug, action, _ in reader] == [("un", "expert.contact.read")]
    assert reader[0][2].startswith("client:")
    # the home node recorded the read for un, and the disclosure to un, naming un's node and un
    assert [e for e in await audited(au, expert["id"]) if e[1] != "expert.create"] == [
        ("un", "expert.contact.read", f"node:{un.issuer}#un"),
        ("au", "expert.contact.disclosed", f"node:{un.issuer}#un"),
    ]


async def test_the_home_node_applies_its_own_sharing_to_a_contact_lookup(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    """A copy that is stale here (its home narrowed its sharing since the last pull) is still
    refused by the home node; a home that does not answer is named as the node to ask."""
    un, au, _ = nodes
    home = await org_headers(au, "au")
    narrowed = await made(au, home, "/v1/experts", expert_body(name="Later Narrowed", external_id="narrow-1"))
    await pull(un, au)
    changed = await call(
        au,
        "PATCH",
        f"/v1/experts/{narrowed['id']}",
        {**home, "If-Match": '"1"'},
        json={"sharing": "restricted", "share_with": ["eu"]},
    )
    assert changed.status_code == 200, changed.text
    path = f"/v1/experts/{narrowed['id']}/contact"
    assert (await call(un, "GET", f"/v1/experts/{narrowed['id']}", network["un"])).status_code == 200
    refused = await call(un, "GET", path, network["un"])
    assert refused.status_code == 404, refused.text
    assert "narrow" not in refused.text
    assert [e[1] for e in await audited(au, narrowed["id"])] == ["expert.create", "expert.update"]

    # the home node refuses un's node for a while: the lookup names the node to ask, nothing read
    await au.owner("UPDATE peers SET state = 'refused' WHERE issuer = $1", un.issuer)
    try:
        expert = network["records"]["expert"]
        unavailable = await call(un, "GET", f"/v1/experts/{expert['id']}/contact", network["un-2"])
    finally:
        await au.owner("UPDATE peers SET state = 'active' WHERE issuer = $1", un.issuer)
    assert unavailable.status_code == 503, unavailable.text
    assert unavailable.json()["home_node"] == au.issuer
    assert au.issuer in unavailable.json()["detail"]
    assert "amina@example.org" not in unavailable.text
    assert [e for e in await audited(au, expert["id"]) if e[0] == "un-2"] == []


async def test_an_organisation_sees_no_copy_that_is_not_shared_with_it(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    un, _, eu = nodes
    restricted = network["records"]["restricted"]
    path = f"/v1/offices/{restricted['id']}"
    # on un, the office shared with 'un' is un's to see, not un-2's
    assert (await call(un, "GET", path, network["un"])).status_code == 200
    for node, headers in ((un, network["un-2"]), (eu, network["eu"])):
        assert (await call(node, "GET", path, headers)).status_code == 404
        listed = (await call(node, "GET", "/v1/offices", headers, params={"q": RESTRICTED})).json()
        assert listed["items"] == [], (node.name, listed)
        assert listed["total"] == 0
        # a write to it is a 404 as for any record one may not see: nothing says it exists
        write = await call(node, "PATCH", path, {**headers, "If-Match": '"1"'}, json={"name": "Renamed"})
        assert write.status_code == 404, write.text
        assert "home_node" not in write.json()
    # the third node never received it
    assert await eu.owner("SELECT id FROM offices WHERE id = $1", restricted["id"]) == []


async def test_the_home_node_answers_a_peer_only_for_its_own_organisations(
    nodes: list[Node], network: dict[str, Any]
) -> None:
    _, au, eu = nodes
    expert = network["records"]["expert"]
    path = f"/federation/v1/experts/{expert['id']}/contact"
    async with PeerClient(eu.settings, await eu.key_ring(), au.issuer) as client:
        # eu's node asking for un (homed on un's node) or for an organisation it does not know
        for slug in ("un", "au", "nobody"):
            refused = await client.get(path, {"organisation": slug})
            assert refused.status_code == 403, (slug, refused.text)
            assert "amina" not in refused.text
        missing = await client.get(path, {})
        assert missing.status_code == 422, missing.text
        assert [e["field"] for e in missing.json()["errors"]] == ["organisation"]
        # the home node's own sharing rules for eu: an expert shared with un only is not found
        hidden = await made(
            au,
            await org_headers(au, "au"),
            "/v1/experts",
            expert_body(name="For UN only", external_id="un-only", sharing="restricted", share_with=["un"]),
        )
        unseen = await client.get(f"/federation/v1/experts/{hidden['id']}/contact", {"organisation": "eu"})
        assert unseen.status_code == 404, unseen.text
        seen = await client.get(path, {"organisation": "eu"})
        assert seen.status_code == 200, seen.text
        assert seen.json()["email"] == "amina@example.org"
    # an organisation's own token does not open the endpoint
    own = await call(au, "GET", path, await org_headers(au, "au"), params={"organisation": "au"})
    assert own.status_code == 403, own.text
    assert ("au", "expert.contact.disclosed", f"node:{eu.issuer}#eu") in await audited(au, expert["id"])
    assert [e for e in await audited(au, hidden["id"]) if e[1] != "expert.create"] == []
