"""The read cache (msnet.auth.cache) and the database's generation it checks (migration 0035): a kept
answer never outlives a write that changes it, whoever makes the write, nor crosses callers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.app import create_app
from msnet.auth.cache import Entry, ReadCache
from msnet.db.embedded import DatabaseUrls
from msnet.directory import service as directory
from msnet.reports import service as reports
from msnet.settings import Settings
from tests.helpers import MakeCaller, add_client, bearer, org_ids, token_for

VERSIONS = Path(__file__).parents[1] / "migrations" / "versions"
#: The migrations that list tables left untracked: the operational ones (0035), and those written
#: only by triggers on tracked tables (0037).
LISTING = ("0035_read_generation.py", "0037_office_search_untracked.py")
READ = ["directory:read", "directory:write"]


def _untracked() -> set[str]:
    tables: set[str] = set()
    for name in LISTING:
        spec = importlib.util.spec_from_file_location(f"migration_{name[:4]}", VERSIONS / name)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tables.update(module.UNTRACKED)
    return tables


def _counted(app: Litestar, name: str) -> float:
    return app.state.metrics.registry.get_sample_value(name) or 0.0


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response as the cache must give it back: all but the request id, which is each request's."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    return response.status_code, headers, response.content


async def _generation(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval("SELECT value FROM read_generation")


#: pg_trigger.tgtype's bits (PostgreSQL's include/catalog/pg_trigger.h).
ROW, INSERT, DELETE, UPDATE, TRUNCATE = 1, 4, 8, 16, 32


async def _triggered(conn: asyncpg.Connection, name: str, tgtype: int) -> set[str]:
    """The tables with an enabled trigger ``<table><name>`` of exactly ``tgtype``, after the statement
    (no BEFORE or INSTEAD OF bit) calling msnet_generation_mark()."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname = c.relname || $1 AND t.tgtype = $2 AND t.tgenabled = 'O' "
        "AND t.tgfoid = 'msnet_generation_mark()'::regprocedure",
        name,
        tgtype,
    )
    return {r["relname"] for r in rows}


async def test_every_table_is_tracked_or_listed_as_operational(owner_conn: asyncpg.Connection) -> None:
    tables = {
        r["tablename"]
        for r in await owner_conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    rows = await _triggered(owner_conn, "_generation", ROW | INSERT | DELETE | UPDATE)
    truncations = await _triggered(owner_conn, "_generation_truncate", TRUNCATE)
    assert {"offices", "organisations", "capacities"} <= rows
    assert rows == truncations
    assert tables - rows == _untracked()
    marking = await owner_conn.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgfoid = 'msnet_generation_mark()'::regprocedure"
    )
    assert marking == 2 * len(rows)  # no other trigger calls it


async def test_the_generation_changes_at_each_commit_that_writes(
    owner_conn: asyncpg.Connection, make_caller: MakeCaller
) -> None:
    await make_caller("au", READ)
    before = await _generation(owner_conn)
    async with owner_conn.transaction():
        await owner_conn.execute("UPDATE organisations SET name = name || '' WHERE slug = 'au'")
        assert await _generation(owner_conn) == before  # at the commit, not at the write
    committed = await _generation(owner_conn)
    assert committed != before
    assert await owner_conn.fetchval("SELECT count(*) FROM read_generation_marks") == 0

    transaction = owner_conn.transaction()
    await transaction.start()
    await owner_conn.execute("UPDATE organisations SET name = name || '' WHERE slug = 'au'")
    await transaction.rollback()
    assert await _generation(owner_conn) == committed

    async with owner_conn.transaction():
        await owner_conn.execute("SELECT 1")
        savepoint = owner_conn.transaction()
        await savepoint.start()
        await owner_conn.execute("UPDATE organisations SET name = 'Gone' WHERE slug = 'au'")
        await savepoint.rollback()
    assert await _generation(owner_conn) == committed

    await owner_conn.execute("INSERT INTO token_denylist (value, expires_at) VALUES ('jti:x', now())")
    assert await _generation(owner_conn) == committed  # an operational table

    await owner_conn.execute("TRUNCATE capacities")  # empty: a truncation marks all the same
    assert await _generation(owner_conn) != committed


async def test_a_statement_that_changes_no_row_keeps_the_generation(
    owner_conn: asyncpg.Connection, sessionmaker: async_sessionmaker
) -> None:
    before = await _generation(owner_conn)
    await owner_conn.execute("UPDATE organisations SET name = 'x' WHERE slug = 'nowhere'")
    await owner_conn.execute("DELETE FROM offices WHERE name = 'nowhere'")
    await owner_conn.execute("INSERT INTO organisations SELECT * FROM organisations WHERE false")
    assert await _generation(owner_conn) == before

    await owner_conn.execute("INSERT INTO report_dirty (request_id) VALUES (gen_random_uuid())")
    async with sessionmaker() as session, session.begin():  # what the reports.refresh job runs
        await reports.refresh(session)
    assert await owner_conn.fetchval("SELECT count(*) FROM report_dirty") == 0
    async with sessionmaker() as session, session.begin():  # and again, with nothing to do
        await reports.refresh(session)
    assert await _generation(owner_conn) == before


async def test_a_kept_answer_follows_every_write(
    client: AsyncTestClient,
    app: Litestar,
    settings: Settings,
    make_caller: MakeCaller,
    owner_conn: asyncpg.Connection,
) -> None:
    au = await make_caller("au", READ)
    created = await client.post(
        "/v1/offices", json={"name": "First name", "sharing": "public"}, headers=au.headers
    )
    office = created.json()
    path = f"/v1/offices/{office['id']}"

    hits = _counted(app, "msnet_read_cache_hits_total")
    first = await client.get(path, headers=au.headers)
    again = await client.get(path, headers=au.headers)
    assert first.json()["name"] == "First name"
    assert _answer(again) == _answer(first)
    assert _counted(app, "msnet_read_cache_hits_total") == hits + 1
    anonymous = await client.get("/v1/organisations/au")
    assert _answer(await client.get("/v1/organisations/au")) == _answer(anonymous)
    assert _counted(app, "msnet_read_cache_hits_total") == hits + 2
    assert _counted(app, "msnet_read_cache_entries") >= 2

    changed = await client.patch(
        path, json={"name": "Second name"}, headers={**au.headers, "If-Match": first.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    assert (await client.get(path, headers=au.headers)).json()["name"] == "Second name"
    assert (await client.get(path)).json()["name"] == "Second name"

    other = create_app(settings)  # another process's cache on the same database
    async with AsyncTestClient(other, base_url=str(client.base_url)) as elsewhere:
        assert (await elsewhere.get(path, headers=au.headers)).json()["name"] == "Second name"
        assert (await elsewhere.get(path, headers=au.headers)).json()["name"] == "Second name"
        assert _counted(other, "msnet_read_cache_hits_total") == 1
        etag = (await client.get(path, headers=au.headers)).headers["etag"]
        await client.patch(path, json={"name": "Third name"}, headers={**au.headers, "If-Match": etag})
        assert (await elsewhere.get(path, headers=au.headers)).json()["name"] == "Third name"

    page = (await client.get("/v1/offices?limit=20", headers=au.headers)).json()
    assert [o["name"] for o in page["items"]] == ["Third name"]
    async with owner_conn.transaction():  # a write outside msnet
        await owner_conn.execute(
            "SELECT set_config('msnet.org', $1, true)", str((await org_ids(owner_conn))["au"])
        )
        await owner_conn.execute("UPDATE offices SET name = 'Written in SQL' WHERE id = $1", office["id"])
    assert (await client.get(path, headers=au.headers)).json()["name"] == "Written in SQL"
    page = (await client.get("/v1/offices?limit=20", headers=au.headers)).json()
    assert [o["name"] for o in page["items"]] == ["Written in SQL"]


async def test_a_capacity_change_ends_a_kept_office_search(
    client: AsyncTestClient, app: Litestar, make_caller: MakeCaller, owner_conn: asyncpg.Connection
) -> None:
    """The office search reads the offices' search documents (migration 0036), which mark nothing
    themselves (0037): the write to the capacity that changes one marks the transaction."""
    au = await make_caller("au", READ)
    office = (
        await client.post("/v1/offices", json={"name": "Land unit", "sharing": "public"}, headers=au.headers)
    ).json()
    capacity = await client.post(
        f"/v1/offices/{office['id']}/capacities",
        json={"service_type": "process_design", "themes": ["land"], "languages": ["fr"], "sharing": "public"},
        headers=au.headers,
    )
    assert capacity.status_code == 201, capacity.text

    async def search() -> tuple[list[str], dict[str, Any]]:
        hits = _counted(app, "msnet_read_cache_hits_total")
        first = await client.get("/v1/offices?theme=land", headers=au.headers)
        again = await client.get("/v1/offices?theme=land", headers=au.headers)
        assert _answer(again) == _answer(first)
        assert _counted(app, "msnet_read_cache_hits_total") == hits + 1  # kept, until a write
        page = first.json()
        return [o["name"] for o in page["items"]], page["facets"]["language"]

    assert await search() == (["Land unit"], {"fr": 1})
    au_id = str((await org_ids(owner_conn))["au"])
    async with owner_conn.transaction():  # a write outside msnet: only the triggers see it
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", au_id)
        await owner_conn.execute(
            "UPDATE capacities SET languages = '{fr,en}' WHERE id = $1", capacity.json()["id"]
        )
    assert await search() == (["Land unit"], {"en": 1, "fr": 1})
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", au_id)
        await owner_conn.execute(
            "UPDATE capacities SET themes = '{water}' WHERE id = $1", capacity.json()["id"]
        )
    assert await search() == ([], {})
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", au_id)
        await owner_conn.execute(
            "INSERT INTO capacities (id, origin, version, office_id, organisation_id, service_type, themes, "
            "countries, regions, languages, lead_time_days, concurrent_engagements, notes, sharing, share_with) "
            "SELECT gen_random_uuid(), origin, 1, office_id, organisation_id, service_type, '{land}', "
            "countries, regions, '{ar}', lead_time_days, concurrent_engagements, notes, sharing, share_with "
            "FROM capacities WHERE id = $1",
            capacity.json()["id"],
        )
    assert await search() == (["Land unit"], {"ar": 1})
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", au_id)
        await owner_conn.execute(
            "DELETE FROM capacities WHERE office_id = $1 AND themes = '{land}'", office["id"]
        )
    assert await search() == ([], {})


async def test_an_answer_is_never_given_to_another_caller(
    client: AsyncTestClient, app: Litestar, make_caller: MakeCaller
) -> None:
    au, eu, igad = [await make_caller(slug, READ) for slug in ("au", "eu", "igad")]
    au_unscoped = await make_caller("au", ["audit:read"])
    private = (
        await client.post("/v1/offices", json={"name": "Private", "sharing": "private"}, headers=au.headers)
    ).json()
    restricted = (
        await client.post(
            "/v1/offices",
            json={"name": "Restricted", "sharing": "restricted", "share_with": ["eu"]},
            headers=au.headers,
        )
    ).json()
    for _ in range(2):  # the second round is answered from the cache
        assert (await client.get(f"/v1/offices/{private['id']}", headers=au.headers)).status_code == 200
        assert (await client.get(f"/v1/offices/{restricted['id']}", headers=eu.headers)).status_code == 200
        for outsider in (eu.headers, igad.headers, {}):
            assert (await client.get(f"/v1/offices/{private['id']}", headers=outsider)).status_code == 404
        for outsider in (igad.headers, {}):
            assert (await client.get(f"/v1/offices/{restricted['id']}", headers=outsider)).status_code == 404
        assert (
            await client.get(f"/v1/offices/{private['id']}", headers=au_unscoped.headers)
        ).status_code == 403
        seen = {}
        for name, caller in (("au", au), ("eu", eu), ("igad", igad)):
            page = await client.get("/v1/offices?limit=20", headers=caller.headers)
            seen[name] = sorted(o["name"] for o in page.json()["items"])
        seen["anonymous"] = [o["name"] for o in (await client.get("/v1/offices?limit=20")).json()["items"]]
        assert seen == {"au": ["Private", "Restricted"], "eu": ["Restricted"], "igad": [], "anonymous": []}
    assert _counted(app, "msnet_read_cache_hits_total") == 6


async def test_what_is_never_answered_from_the_cache(
    client: AsyncTestClient, app: Litestar, settings: Settings
) -> None:
    created = await add_client(settings, "au", ["directory:read"])
    token = await token_for(client, created)
    for _ in range(2):
        assert (await client.get("/v1/offices?limit=20", headers=bearer(token))).status_code == 200
    hits = _counted(app, "msnet_read_cache_hits_total")
    assert hits == 1
    revoked = await client.post(
        "/oauth/revoke", data={"token": token}, auth=(created.client_id, created.client_secret)
    )
    assert revoked.status_code == 200
    assert (await client.get("/v1/offices?limit=20", headers=bearer(token))).status_code == 401

    entries = _counted(app, "msnet_read_cache_entries")
    for _ in range(2):
        assert (await client.get("/v1/organisations/nowhere")).status_code == 404
        assert (await client.get("/v1/offices?include_stale=false")).status_code == 200
        conditional = await client.get("/v1/organisations/au", headers={"If-None-Match": '"x"'})
        assert conditional.status_code == 200
    assert _counted(app, "msnet_read_cache_entries") == entries
    assert _counted(app, "msnet_read_cache_hits_total") == hits


async def test_a_long_query_string_is_not_kept_and_a_key_counts_in_the_size(
    client: AsyncTestClient, app: Litestar, make_caller: MakeCaller
) -> None:
    await make_caller("au", READ)
    entries = _counted(app, "msnet_read_cache_entries")
    junk = "junk=" + "x" * 2000  # a parameter the handler ignores
    for _ in range(2):
        assert (await client.get(f"/v1/organisations/au?{junk}")).status_code == 200
    assert _counted(app, "msnet_read_cache_entries") == entries
    assert _counted(app, "msnet_read_cache_hits_total") == 0

    empty = _counted(app, "msnet_read_cache_bytes")
    plain = await client.get("/v1/organisations/au")
    kept = _counted(app, "msnet_read_cache_bytes")
    query = "junk=" + "x" * 900
    padded = await client.get(f"/v1/organisations/au?{query}")
    assert _answer(padded) == _answer(plain)
    assert _counted(app, "msnet_read_cache_bytes") - kept == kept - empty + len(query)


async def test_the_key_holds_the_token_scopes_and_the_query(
    client: AsyncTestClient, settings: Settings, make_caller: MakeCaller
) -> None:
    au = await make_caller("au", READ)
    for name in ("First", "Second"):
        await client.post("/v1/offices", json={"name": name, "sharing": "private"}, headers=au.headers)
    page = (await client.get("/v1/offices?limit=20", headers=au.headers)).json()
    path = f"/v1/offices/{page['items'][0]['id']}"
    created = await add_client(settings, "au", ["directory:read", "audit:read"])
    reading = bearer(await token_for(client, created, "directory:read"))
    auditing = bearer(await token_for(client, created, "audit:read"))  # the same client, other scopes
    for _ in range(2):  # the second round is answered from the cache
        assert (await client.get(path, headers=reading)).status_code == 200
        assert (await client.get(path, headers=auditing)).status_code == 403
        first = (await client.get("/v1/offices?limit=1", headers=au.headers)).json()
        both = (await client.get("/v1/offices?limit=2", headers=au.headers)).json()
        cursor = {"limit": 1, "cursor": first["next_cursor"]}
        after = (await client.get("/v1/offices", params=cursor, headers=au.headers)).json()
        assert [o["name"] for o in both["items"]] == [o["name"] for o in first["items"] + after["items"]]
        assert len(both["items"]) == 2


async def test_a_write_committed_while_the_handler_runs_ends_its_answer(
    client: AsyncTestClient,
    make_caller: MakeCaller,
    owner_conn: asyncpg.Connection,
    db_urls: DatabaseUrls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    au = await make_caller("au", READ)
    org = str((await org_ids(owner_conn))["au"])
    office = (
        await client.post("/v1/offices", json={"name": "Read", "sharing": "public"}, headers=au.headers)
    ).json()
    path = f"/v1/offices/{office['id']}"
    read = directory.get_office

    async def read_then_written(*args: Any) -> Any:
        """The office as the handler reads it, then a write by another connection, committed before
        the handler's answer is kept."""
        found = await read(*args)
        conn = await asyncpg.connect(db_urls.admin)  # on the app's event loop
        try:
            async with conn.transaction():
                await conn.execute("SELECT set_config('msnet.org', $1, true)", org)
                await conn.execute("UPDATE offices SET name = 'Written' WHERE id = $1", office["id"])
        finally:
            await conn.close()
        return found

    monkeypatch.setattr(directory, "get_office", read_then_written)
    assert (await client.get(path)).json()["name"] == "Read"
    monkeypatch.undo()
    assert (await client.get(path)).json()["name"] == "Written"


def test_an_answer_tagged_with_an_older_generation_is_not_kept(app: Litestar) -> None:
    cache = ReadCache(10, 1_000_000, app.state.metrics)
    assert cache.get(("/slow",), "older") is None  # a slow handler starts
    assert cache.get(("/quick",), "newer") is None  # a write committed; another request starts
    cache.put(("/quick",), Entry("newer", [], b"new", 6))
    cache.put(("/slow",), Entry("older", [], b"old", 5))
    assert cache.get(("/slow",), "older") is None
    assert cache.get(("/quick",), "newer") == Entry("newer", [], b"new", 6)
