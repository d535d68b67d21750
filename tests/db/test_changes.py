"""The change log and tombstones: every write of a shared record is logged in its transaction, and the
reader pages through the log without skipping a change that an earlier transaction commits late."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.api import decode_cursor, encode_cursor
from msnet.db.changes import Change, Position, read_changes
from msnet.db.embedded import DatabaseUrls
from msnet.db.engine import make_engine, make_sessionmaker, set_organisation
from msnet.db.runtime import cli_session
from msnet.organisations import schemas as organisation_schemas
from msnet.organisations import service as organisations
from msnet.settings import Settings
from tests.helpers import add_client, bearer, org_ids, token_for
from tests.roster.conftest import expert_body
from tests.training.conftest import publication_body, training_body

SCOPES = [
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "requests:read",
    "requests:write",
    "training:read",
    "training:write",
]


@dataclass
class Caller:
    slug: str
    headers: dict[str, str]


async def _caller(client: AsyncTestClient, settings: Settings, slug: str) -> Caller:
    return Caller(slug, bearer(await token_for(client, await add_client(settings, slug, SCOPES))))


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings) -> Caller:
    return await _caller(client, settings, "au")


@pytest.fixture
async def eu(client: AsyncTestClient, settings: Settings) -> Caller:
    return await _caller(client, settings, "eu")


async def _last_seq(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT coalesce(max(seq), 0) FROM change_log")


async def _logged(conn: asyncpg.Connection, since: int) -> list[tuple[Any, ...]]:
    """The change rows written after ``since``, as the owner reads them (all of them)."""
    rows = await conn.fetch(
        "SELECT kind, record_id, organisation_id, op, version, sharing, share_with FROM change_log "
        "WHERE seq > $1 ORDER BY seq",
        since,
    )
    return [tuple(r.values()) for r in rows]


async def _post(client: AsyncTestClient, caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _office(client: AsyncTestClient, caller: Caller) -> dict[str, Any]:
    return await _post(client, caller, "/v1/offices", {"name": "AU Mediation Support Unit"})


async def _capacity(client: AsyncTestClient, caller: Caller, office_id: str) -> dict[str, Any]:
    body = {"service_type": "process_design", "lead_time_days": 7, "concurrent_engagements": 2}
    return await _post(client, caller, f"/v1/offices/{office_id}/capacities", {**body, "notes": "ceasefire"})


@dataclass
class Kind:
    """A kind of shared record as the API writes it: where it lives, how it is made (given an office)
    and changed, a search that finds it (None: it cannot be deleted)."""

    collection: str
    make: Callable[[AsyncTestClient, Caller, str], Awaitable[dict[str, Any]]]
    update: dict[str, Any]
    search: str | None


KINDS = {
    "office": Kind("/v1/offices", lambda c, who, _: _office(c, who), {"staff_size": 11}, "mediation"),
    "capacity": Kind("/v1/capacities", _capacity, {"lead_time_days": 10}, "ceasefire"),
    "expert": Kind(
        "/v1/experts",
        lambda c, who, _: _post(c, who, "/v1/experts", expert_body()),
        {"bio": "Retired."},
        "amina",
    ),
    "training": Kind(
        "/v1/trainings",
        lambda c, who, _: _post(c, who, "/v1/trainings", training_body()),
        {"seats": 30},
        "design",
    ),
    "publication": Kind(
        "/v1/publications",
        lambda c, who, _: _post(c, who, "/v1/publications", publication_body()),
        {"summary": "Options for inclusion."},
        "inclusive",
    ),
    "process": Kind(
        "/v1/processes",
        lambda c, who, _: _post(
            c, who, "/v1/processes", {"name": "Central African peace process", "countries": ["CF"]}
        ),
        {"description": "Talks in Bangui."},
        None,
    ),
}


async def _listed(client: AsyncTestClient, caller: Caller, collection: str, **params: str) -> list[str]:
    response = await client.get(collection, params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("name", list(KINDS))
async def test_each_write_of_a_record_is_logged_and_a_delete_leaves_a_tombstone(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection, name: str
) -> None:
    kind = KINDS[name]
    orgs = await org_ids(owner_conn)
    office = await _office(client, au)
    since = await _last_seq(owner_conn)
    record = await kind.make(client, au, office["id"])
    url = f"{kind.collection}/{record['id']}"
    changes = [kind.update, {"sharing": "restricted", "share_with": ["eu"]}]
    for version, body in enumerate(changes, start=1):
        response = await client.patch(url, json=body, headers={**au.headers, "If-Match": f'"{version}"'})
        assert response.status_code == 200, response.text
    rid, au_id, eu_id = uuid.UUID(record["id"]), orgs["au"], orgs["eu"]
    expected = [
        (name, rid, au_id, "upsert", 1, "network", []),
        (name, rid, au_id, "upsert", 2, "network", []),
        (name, rid, au_id, "upsert", 3, "restricted", [eu_id]),
    ]
    logged = await _logged(owner_conn, since)
    assert logged == expected
    if kind.search is None:
        return

    for params in ({}, {"q": kind.search}):  # before the delete, the other organisation finds it
        assert record["id"] in await _listed(client, eu, kind.collection, **params)
    deleted = await client.delete(url, headers={**au.headers, "If-Match": '"3"'})
    assert deleted.status_code == 204, deleted.text
    assert (await _logged(owner_conn, since))[len(logged) :] == [
        (name, rid, au_id, "delete", 4, "restricted", [eu_id])
    ]
    tombstone = await owner_conn.fetchrow(
        "SELECT organisation_id, version, sharing, share_with FROM tombstones WHERE kind = $1 AND record_id = $2",
        name,
        rid,
    )
    assert tuple(tombstone.values()) == (au_id, 4, "restricted", [eu_id])
    for caller in (au, eu):
        for params in ({}, {"q": kind.search}):
            assert record["id"] not in await _listed(client, caller, kind.collection, **params)


async def test_cascaded_deletes_are_logged(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    office = await _office(client, au)
    capacities = [await _capacity(client, au, office["id"]) for _ in range(2)]
    since = await _last_seq(owner_conn)
    deleted = await client.delete(f"/v1/offices/{office['id']}", headers={**au.headers, "If-Match": '"1"'})
    assert deleted.status_code == 204
    gone = {("office", uuid.UUID(office["id"]))} | {("capacity", uuid.UUID(c["id"])) for c in capacities}
    logged = await _logged(owner_conn, since)
    assert sorted((row[0], row[1], row[3], row[4]) for row in logged) == sorted(
        (kind, rid, "delete", 2) for kind, rid in gone
    )
    assert {
        tuple(r.values()) for r in await owner_conn.fetch("SELECT kind, record_id FROM tombstones")
    } == gone


async def test_an_organisation_is_logged_as_public_under_its_own_id(
    db_urls: DatabaseUrls, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    async with cli_session(db_urls.app) as session:  # no organisation set, as `msnet org create`
        org = await organisations.create_organisation(
            session,
            organisation_schemas.OrganisationCreate(slug="au", name="African Union"),
            origin=settings.issuer,
        )
    assert await _logged(owner_conn, 0) == [("organisation", org.id, org.id, "upsert", 1, "public", [])]
    await owner_conn.execute("UPDATE organisations SET name = 'The African Union'")  # the same version
    await owner_conn.execute("UPDATE organisations SET version = version + 1")
    assert (await _logged(owner_conn, 1)) == [("organisation", org.id, org.id, "upsert", 2, "public", [])]


async def test_an_update_is_logged_when_version_or_sharing_changes(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection
) -> None:
    office = await _office(client, au)
    orgs = await org_ids(owner_conn)
    since = await _last_seq(owner_conn)
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs["au"]))
        await owner_conn.execute("UPDATE offices SET mandate = 'Good offices'")
        await owner_conn.execute("UPDATE offices SET sharing = 'restricted', share_with = $1", [orgs["eu"]])
        await owner_conn.execute("UPDATE offices SET share_with = $1", [orgs["eu"], orgs["au"]])
    rid, au_id = uuid.UUID(office["id"]), orgs["au"]
    assert await _logged(owner_conn, since) == [
        ("office", rid, au_id, "upsert", 1, "restricted", [orgs["eu"]]),
        ("office", rid, au_id, "upsert", 1, "restricted", [orgs["eu"], au_id]),
    ]


async def _as_service(
    db_urls: DatabaseUrls, org: uuid.UUID | None, statement: str, *args: Any
) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_urls.app)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org or ""))
            return await conn.fetch(statement, *args)
    finally:
        await conn.close()


async def test_the_service_role_reads_as_sharing_allows_and_cannot_write(
    client: AsyncTestClient, au: Caller, eu: Caller, db_urls: DatabaseUrls, owner_conn: asyncpg.Connection
) -> None:
    orgs = await org_ids(owner_conn)
    shared, private = (
        await _office(client, au),
        await _post(client, au, "/v1/offices", {"name": "AU private unit", "sharing": "private"}),
    )
    for office in (shared, private):
        deleted = await client.delete(
            f"/v1/offices/{office['id']}", headers={**au.headers, "If-Match": '"1"'}
        )
        assert deleted.status_code == 204
    log = "SELECT DISTINCT kind, record_id FROM change_log"
    everyone = {("organisation", orgs["au"]), ("organisation", orgs["eu"])}
    offices = {("office", uuid.UUID(o["id"])) for o in (shared, private)}
    shared_only = {("office", uuid.UUID(shared["id"]))}
    assert {tuple(r.values()) for r in await _as_service(db_urls, orgs["au"], log)} == everyone | offices
    assert {tuple(r.values()) for r in await _as_service(db_urls, orgs["eu"], log)} == everyone | shared_only
    assert {tuple(r.values()) for r in await _as_service(db_urls, None, log)} == everyone
    tombs = "SELECT kind, record_id FROM tombstones"
    assert {tuple(r.values()) for r in await _as_service(db_urls, orgs["au"], tombs)} == offices
    assert {tuple(r.values()) for r in await _as_service(db_urls, orgs["eu"], tombs)} == shared_only
    assert await _as_service(db_urls, None, tombs) == []

    record = (uuid.uuid4(), orgs["au"])
    for statement in (
        "INSERT INTO change_log (kind, record_id, organisation_id, op, version, sharing, origin) "
        "VALUES ('office', $1, $2, 'delete', 9, 'public', 'x')",
        "INSERT INTO tombstones (kind, record_id, organisation_id, origin, version, sharing) "
        "VALUES ('office', $1, $2, 'x', 9, 'public')",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _as_service(db_urls, orgs["au"], statement, *record)
    for statement in (
        "UPDATE change_log SET version = 9",
        "DELETE FROM change_log",
        "DELETE FROM tombstones",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _as_service(db_urls, orgs["au"], statement)


# --- reading the log while transactions commit out of order ----------------------------------------


@pytest.fixture
async def org(db_urls: DatabaseUrls, settings: Settings) -> uuid.UUID:
    async with cli_session(db_urls.app) as session:
        made = organisations.create_organisation(
            session,
            organisation_schemas.OrganisationCreate(slug="au", name="African Union"),
            origin=settings.issuer,
        )
        return (await made).id


@pytest.fixture
async def sessions(db_urls: DatabaseUrls) -> AsyncIterator[async_sessionmaker]:
    engine = make_engine(db_urls.app, pool_size=1)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def writers(db_urls: DatabaseUrls) -> AsyncIterator[list[asyncpg.Connection]]:
    conns = [await asyncpg.connect(db_urls.app) for _ in range(5)]
    try:
        yield conns
    finally:
        for conn in conns:
            await conn.close()


async def _write(conn: asyncpg.Connection, org: uuid.UUID) -> tuple[int, uuid.UUID]:
    """Add an office in the connection's open transaction: the transaction's id and the office's."""
    office = uuid.uuid4()
    await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org))
    await conn.execute(
        "INSERT INTO offices (id, organisation_id, name, sharing, origin) VALUES ($1, $2, 'Unit', 'network', 'x')",
        office,
        org,
    )
    return await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"), office


async def _page(
    sessions: async_sessionmaker, org: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[Change], str]:
    """One page as a peer would ask for it: from an opaque cursor, to the next one."""
    after = Position(*decode_cursor(cursor, int, int)) if cursor else None
    async with sessions() as session, session.begin():
        await set_organisation(session, org)
        page = await read_changes(session, after, limit)
    return page.changes, encode_cursor(*page.next)


async def _read_through(
    sessions: async_sessionmaker, org: uuid.UUID, cursor: str | None, txid: int, limit: int = 100
) -> list[Change]:
    """Page on until a page that is not full ends at or past transaction ``txid``: every change of it
    and of those before it is read. Another database's transaction on the same server holds the
    horizon back while it runs: wait for it, a while."""
    read: list[Change] = []
    deadline = time.monotonic() + 30
    while True:
        changes, cursor = await _page(sessions, org, cursor, limit)
        read += changes
        if len(changes) < limit and Position(*decode_cursor(cursor, int, int)) >= Position(txid, 0):
            return read
        assert time.monotonic() < deadline, "the horizon did not pass the last writer"
        if not changes:
            await asyncio.sleep(0.05)


async def test_a_change_committed_late_by_an_earlier_transaction_is_not_skipped(
    sessions: async_sessionmaker, writers: list[asyncpg.Connection], org: uuid.UUID
) -> None:
    first, second = writers[:2]
    earlier = first.transaction()
    await earlier.start()
    early_txid, early = await _write(first, org)
    async with second.transaction():
        late_txid, late = await _write(second, org)
    assert early_txid < late_txid

    changes, cursor = await _page(sessions, org, None, 100)
    assert late not in [c.record_id for c in changes]
    assert Position(*decode_cursor(cursor, int, int)) < Position(early_txid, 0)
    await earlier.commit()

    read = changes + await _read_through(sessions, org, cursor, late_txid)
    assert [c.record_id for c in read if c.kind == "office"] == [early, late]
    assert len({c.seq for c in read}) == len(read)


async def test_concurrent_writers_committing_in_any_order_are_read_once_each(
    sessions: async_sessionmaker, writers: list[asyncpg.Connection], org: uuid.UUID
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    committed: list[uuid.UUID] = []
    rolled_back: list[uuid.UUID] = []
    txids: list[int] = []

    async def writer(conn: asyncpg.Connection) -> None:
        for _ in range(6):
            transaction = conn.transaction()
            await transaction.start()
            offices = []
            for _ in range(rng.randint(1, 3)):
                txid, office = await _write(conn, org)
                offices.append(office)
                await asyncio.sleep(rng.uniform(0, 0.02))
            await asyncio.sleep(rng.uniform(0, 0.05))
            if rng.random() < 0.8:
                await transaction.commit()
                committed.extend(offices)
                txids.append(txid)
            else:
                await transaction.rollback()
                rolled_back.extend(offices)

    read: list[Change] = []
    done = asyncio.Event()

    async def reader() -> str | None:
        cursor = None
        while not done.is_set():
            changes, cursor = await _page(sessions, org, cursor, 3)
            read.extend(changes)
            await asyncio.sleep(0.002)
        return cursor

    reading = asyncio.ensure_future(reader())
    await asyncio.gather(*(writer(conn) for conn in writers))
    done.set()
    read.extend(await _read_through(sessions, org, await reading, max(txids, default=0)))

    offices = [c.record_id for c in read if c.kind == "office"]
    assert sorted(offices) == sorted(committed), f"seed {seed}"
    assert not set(offices) & set(rolled_back), f"seed {seed}"
    positions = [(c.txid, c.seq) for c in read]
    assert positions == sorted(set(positions)), f"seed {seed}: read out of order or twice"
