"""The change feed and applying it, at the service level: node A's feed read for node B's
organisations, applied to node B's own database (two clones, no HTTP between them)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
import pytest
from joserfc.jwk import KeySet, RSAKey
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.auth.keys import KeyRing, load_key_ring
from msnet.db.changes import Position
from msnet.db.embedded import with_user_and_db
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.errors import InvalidInput
from msnet.federation import feed
from msnet.federation.apply import BODIES, Applied, PageRejected, UnknownKey, apply_page
from msnet.federation.replicas import Replica
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from tests.conftest import APP, Clones
from tests.helpers import Caller, MakeCaller
from tests.roster.conftest import expert_body

B = "http://node-b.test"
SCOPES = ["directory:read", "directory:write", "roster:read", "roster:write"]


@dataclass
class Node:
    issuer: str
    sessionmaker: async_sessionmaker


@pytest.fixture
async def node_b(superuser_url: str, clones: Clones) -> AsyncIterator[Node]:
    name = clones.take()
    engine = make_engine(with_user_and_db(superuser_url, APP, name), pool_size=3)
    try:
        yield Node(B, make_sessionmaker(engine))
    finally:
        await engine.dispose()
        clones.give_back(name)


@pytest.fixture
async def ring(sessionmaker: async_sessionmaker, settings: Settings) -> KeyRing:
    return await load_key_ring(sessionmaker, settings)


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)


async def organisation(
    maker: async_sessionmaker, slug: str, origin: str, home: str | None, id: UUID | None = None
) -> UUID:
    """An organisation in a node's registry, as peering records it (the same id on every node)."""
    async with maker() as session, session.begin():
        org = Organisation(slug=slug, name=slug.upper(), kind="other", origin=origin, home=home)
        if id is not None:
            org.id = id
        session.add(org)
        await session.flush()
        return org.id


@dataclass
class Peered:
    """A (this test's node) and B peered: ``eu`` homed on B and known to A; ``au`` homed on A and
    known to B."""

    eu: UUID
    au: UUID
    audience: feed.Audience


@pytest.fixture
async def peered(
    sessionmaker: async_sessionmaker, settings: Settings, node_b: Node, au: Caller, igad: Caller
) -> Peered:
    eu = await organisation(node_b.sessionmaker, "eu", B, None)
    await organisation(sessionmaker, "eu", B, B, eu)
    async with sessionmaker() as session:
        au_id = await session.scalar(select(Organisation.id).where(Organisation.slug == "au"))
    await organisation(node_b.sessionmaker, "au", settings.issuer, settings.issuer, au_id)
    return Peered(eu, au_id, feed.Audience(B, frozenset({eu}), frozenset({"eu"})))


SECRET = b"0" * 32


async def settled(maker: async_sessionmaker) -> None:
    """Wait until every transaction that began before now has ended: the feed reads below the
    oldest one still running in the whole cluster (other tests' too)."""
    async with maker() as session, session.begin():
        now = await session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
    for _ in range(600):
        async with maker() as session:
            horizon = await session.scalar(
                text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        if horizon > now:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction in the cluster has been running for 30 s")


async def read_feed(
    maker: async_sessionmaker,
    settings: Settings,
    ring: KeyRing,
    audience: feed.Audience,
    cursor: str | None = None,
    limit: int = 100,
) -> feed.FeedPage:
    await settled(maker)
    async with maker() as session, session.begin():
        return await feed.page(
            session,
            origin=settings.issuer,
            key=ring.signing,
            cursor_secret=SECRET,
            audience=audience,
            cursor=cursor,
            limit=limit,
        )


async def apply(node: Node, origin: str, items: list[str], keys: KeySet) -> Applied:
    async with node.sessionmaker() as session, session.begin():
        return await apply_page(session, origin, items, keys)


def payload(item: str) -> dict[str, Any]:
    body = item.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


async def rows(node: Node, table: str, org: UUID | None = None) -> dict[str, dict[str, Any]]:
    """The rows of ``table`` that organisation ``org`` of the node sees, by name."""
    async with node.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('msnet.org', :o, true)"), {"o": str(org or "")})
        found = await session.execute(text(f"SELECT id::text, name, origin, sharing, version FROM {table}"))
        return {r.name: dict(r._mapping) for r in found}


async def post(client: AsyncTestClient, caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def patch(
    client: AsyncTestClient, caller: Caller, path: str, version: int, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.patch(path, json=body, headers={**caller.headers, "If-Match": f'"{version}"'})
    assert response.status_code == 200, response.text
    return response.json()


def test_what_is_sent_is_what_is_read() -> None:
    assert {k: tuple(b.__struct_fields__) for k, b in BODIES.items()} == feed.FIELDS


async def test_a_peer_gets_what_its_organisations_may_see_and_nothing_else(
    client: AsyncTestClient,
    settings: Settings,
    sessionmaker: async_sessionmaker,
    ring: KeyRing,
    node_b: Node,
    peered: Peered,
    au: Caller,
) -> None:
    for name, sharing, share_with in [
        ("network office", "network", []),
        ("public office", "public", []),
        ("private office", "private", []),
        ("office for eu", "restricted", ["eu", "igad"]),
        ("office for igad", "restricted", ["igad"]),
    ]:
        await post(client, au, "/v1/offices", {"name": name, "sharing": sharing, "share_with": share_with})
    expert = await post(client, au, "/v1/experts", expert_body(name="Networked expert", sharing="network"))

    page = await read_feed(sessionmaker, settings, ring, peered.audience)
    sent = [payload(i) for i in page.items]
    names = {p["body"]["name"] for p in sent if p["kind"] in ("office", "expert")}
    assert names == {"network office", "public office", "office for eu", "Networked expert"}
    assert {p["body"]["slug"] for p in sent if p["kind"] == "organisation"} >= {"au", "igad"}
    assert "eu" not in {p["body"]["slug"] for p in sent if p["kind"] == "organisation"}  # B's own
    for_eu = next(p for p in sent if p["kind"] == "office" and p["body"]["name"] == "office for eu")
    assert for_eu["share_with"] == ["eu"]  # not who else it is shared with
    sent_expert = next(p for p in sent if p["kind"] == "expert")
    assert sent_expert["id"] == expert["id"]
    assert "amina@example.org" not in json.dumps(sent)
    assert "+223" not in json.dumps(sent)
    assert "consent" not in sent_expert["body"]
    assert "external_id" not in sent_expert["body"]
    assert all(p["origin"] == settings.issuer for p in sent)

    applied = await apply(node_b, settings.issuer, page.items, ring.verifying)
    assert applied.applied == len(page.items)
    eu_sees = await rows(node_b, "offices", peered.eu)
    assert set(eu_sees) == {"network office", "public office", "office for eu"}
    assert {r["origin"] for r in eu_sees.values()} == {settings.issuer}
    experts = await rows(node_b, "experts", peered.eu)
    assert set(experts) == {"Networked expert"}
    async with node_b.sessionmaker() as session, session.begin():
        assert await session.scalar(text("SELECT count(*) FROM expert_contacts")) == 0

    again = await apply(node_b, settings.issuer, page.items, ring.verifying)  # a duplicate page
    assert (again.applied, again.unchanged) == (0, len(page.items))

    empty = await read_feed(sessionmaker, settings, ring, peered.audience, page.next_cursor)
    assert empty.items == []
    assert empty.next_cursor


async def test_narrowed_and_deleted_records_reach_the_peer_as_tombstones_and_stay_gone(
    client: AsyncTestClient,
    settings: Settings,
    sessionmaker: async_sessionmaker,
    ring: KeyRing,
    node_b: Node,
    peered: Peered,
    au: Caller,
) -> None:
    narrowed = await post(client, au, "/v1/offices", {"name": "narrowed", "sharing": "network"})
    deleted = await post(client, au, "/v1/offices", {"name": "deleted", "sharing": "network"})
    moved = await post(
        client, au, "/v1/offices", {"name": "moved", "sharing": "restricted", "share_with": ["eu"]}
    )
    never = await post(client, au, "/v1/offices", {"name": "never seen", "sharing": "private"})
    first = await read_feed(sessionmaker, settings, ring, peered.audience)
    await apply(node_b, settings.issuer, first.items, ring.verifying)
    assert set(await rows(node_b, "offices", peered.eu)) == {"narrowed", "deleted", "moved"}

    await patch(client, au, f"/v1/offices/{narrowed['id']}", narrowed["version"], {"sharing": "private"})
    await patch(client, au, f"/v1/offices/{moved['id']}", moved["version"], {"share_with": ["igad"]})
    response = await client.delete(
        f"/v1/offices/{deleted['id']}", headers={**au.headers, "If-Match": f'"{deleted["version"]}"'}
    )
    assert response.status_code == 204, response.text
    await client.delete(
        f"/v1/offices/{never['id']}", headers={**au.headers, "If-Match": f'"{never["version"]}"'}
    )

    second = await read_feed(sessionmaker, settings, ring, peered.audience, first.next_cursor)
    sent = [payload(i) for i in second.items]
    assert {(p["id"], p.get("tombstone")) for p in sent} == {
        (narrowed["id"], True),
        (deleted["id"], True),
        (moved["id"], True),
    }  # nothing of the private office, not even its id
    assert all("body" not in p and p["share_with"] == [] for p in sent)
    await apply(node_b, settings.issuer, second.items, ring.verifying)
    assert await rows(node_b, "offices", peered.eu) == {}

    # the first page again (out of order, old versions, a change after a tombstone): nothing comes back
    late = await apply(node_b, settings.issuer, first.items, ring.verifying)
    assert late.applied == 0
    assert await rows(node_b, "offices", peered.eu) == {}

    # widened again: a newer version than the tombstone's, so it is back
    await patch(client, au, f"/v1/offices/{narrowed['id']}", narrowed["version"] + 1, {"sharing": "network"})
    third = await read_feed(sessionmaker, settings, ring, peered.audience, second.next_cursor)
    await apply(node_b, settings.issuer, third.items, ring.verifying)
    assert set(await rows(node_b, "offices", peered.eu)) == {"narrowed"}


async def test_replicated_capacities_keep_their_office_s_search_document(
    client: AsyncTestClient,
    settings: Settings,
    sessionmaker: async_sessionmaker,
    ring: KeyRing,
    node_b: Node,
    peered: Peered,
    au: Caller,
) -> None:
    office = await post(client, au, "/v1/offices", {"name": "Replicated unit", "sharing": "network"})
    capacity = await post(
        client,
        au,
        f"/v1/offices/{office['id']}/capacities",
        {"service_type": "coaching", "themes": ["land"], "languages": ["fr"], "sharing": "network"},
    )

    async def document() -> tuple[list[str], list[str], list[str]]:
        """The office's terms in node B's search document, as eu (homed on B) reads them."""
        async with node_b.sessionmaker() as session, session.begin():
            await session.execute(text("SELECT set_config('msnet.org', :o, true)"), {"o": str(peered.eu)})
            row = (
                await session.execute(
                    text(
                        "SELECT themes, languages, common_languages FROM office_search WHERE office_id = :id"
                    ),
                    {"id": office["id"]},
                )
            ).one()
            return row.themes, row.languages, row.common_languages

    first = await read_feed(sessionmaker, settings, ring, peered.audience)
    await apply(node_b, settings.issuer, first.items, ring.verifying)
    assert await document() == (["land"], ["fr"], ["fr"])
    await patch(
        client, au, f"/v1/capacities/{capacity['id']}", capacity["version"], {"languages": ["ar", "fr"]}
    )
    second = await read_feed(sessionmaker, settings, ring, peered.audience, first.next_cursor)
    await apply(node_b, settings.issuer, second.items, ring.verifying)
    assert await document() == (["land"], ["ar", "fr"], ["ar", "fr"])
    response = await client.delete(
        f"/v1/capacities/{capacity['id']}", headers={**au.headers, "If-Match": f'"{capacity["version"] + 1}"'}
    )
    assert response.status_code == 204, response.text
    third = await read_feed(sessionmaker, settings, ring, peered.audience, second.next_cursor)
    await apply(node_b, settings.issuer, third.items, ring.verifying)
    assert await document() == ([], [], [])


async def test_a_bad_item_rejects_the_whole_page(
    client: AsyncTestClient,
    settings: Settings,
    sessionmaker: async_sessionmaker,
    ring: KeyRing,
    node_b: Node,
    peered: Peered,
    au: Caller,
) -> None:
    await post(client, au, "/v1/offices", {"name": "good office", "sharing": "network"})
    page = await read_feed(sessionmaker, settings, ring, peered.audience)
    office = next(p for p in (payload(i) for i in page.items) if p["kind"] == "office")
    forger = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    header, _body, signature = page.items[-1].split(".")
    altered_body = (
        base64.urlsafe_b64encode(msgspec.json.encode({**payload(page.items[-1]), "version": 99}))
        .decode()
        .rstrip("=")
    )
    b_local = await post_on_b(node_b, peered.eu)
    cases = {
        "altered": f"{header}.{altered_body}.{signature}",
        "forged with the origin's kid": feed.sign_item(_with_kid(forger, ring.signing.kid), office),
        "another origin": feed.sign_item(ring.signing, {**office, "origin": "http://node-c.test"}),
        "an organisation not homed on the peer": feed.sign_item(
            ring.signing, {**office, "organisation": str(peered.eu)}
        ),
        "a private record": feed.sign_item(ring.signing, {**office, "sharing": "private"}),
        "contact details": feed.sign_item(
            ring.signing, {**office, "body": {**office["body"], "email": "x@example.org"}}
        ),
        "a local record's id": feed.sign_item(ring.signing, {**office, "id": str(b_local), "version": 50}),
        "not JSON": feed.sign_item(ring.signing, {"id": "x"}),
    }
    for case, bad in cases.items():
        with pytest.raises(PageRejected) as caught:
            await apply(node_b, settings.issuer, [*page.items, bad], ring.verifying)
        assert not isinstance(caught.value, UnknownKey), case
        assert await rows(node_b, "offices", peered.eu) == {
            "b's own": {
                "id": str(b_local),
                "name": "b's own",
                "origin": B,
                "sharing": "network",
                "version": 1,
            }
        }, case
    with pytest.raises(UnknownKey):
        await apply(node_b, settings.issuer, [feed.sign_item(forger, office)], ring.verifying)
    async with node_b.sessionmaker() as session:
        assert await session.scalar(select(Replica).limit(1)) is None
    assert (await apply(node_b, settings.issuer, page.items, ring.verifying)).applied == len(page.items)


def _with_kid(key: RSAKey, kid: str | None) -> RSAKey:
    return RSAKey.import_key({**key.as_dict(private=True), "kid": kid})


async def post_on_b(node: Node, org: UUID) -> UUID:
    async with node.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT set_config('msnet.org', :o, true)"), {"o": str(org)})
        return await session.scalar(
            text(
                "INSERT INTO offices (id, organisation_id, origin, name, mandate, parent_structure, sharing, share_with, version) "
                "VALUES (gen_random_uuid(), :o, :b, 'b''s own', '', '', 'network', '{}', 1) RETURNING id"
            ),
            {"o": org, "b": B},
        )


async def test_cursors(
    settings: Settings, sessionmaker: async_sessionmaker, ring: KeyRing, peered: Peered
) -> None:
    page = await read_feed(sessionmaker, settings, ring, peered.audience)
    other = feed.Audience(B, frozenset({peered.eu, peered.au}), frozenset({"eu", "au"}))
    for malformed in ["", "x", "c1.1.2", "c2.1.2.abc", "c1.-1.2.abc", f"c1.{2**64}.1.abc"]:
        with pytest.raises(InvalidInput):
            await read_feed(sessionmaker, settings, ring, peered.audience, malformed or "c1")
    with pytest.raises(feed.CursorGone):  # the audience changed since
        await read_feed(sessionmaker, settings, ring, other, page.next_cursor)
    with pytest.raises(feed.CursorGone):  # another node's (another secret)
        async with sessionmaker() as session, session.begin():
            await feed.page(
                session,
                origin=settings.issuer,
                key=ring.signing,
                cursor_secret=b"1" * 32,
                audience=peered.audience,
                cursor=page.next_cursor,
                limit=10,
            )
    future = feed.encode_cursor(SECRET, peered.audience, Position(2**40, 1))
    with pytest.raises(feed.CursorGone):
        await read_feed(sessionmaker, settings, ring, peered.audience, future)
