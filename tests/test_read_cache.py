"""The read cache (msnet.auth.cache) and the database's generation it checks (migration 0035): a kept
answer never outlives a write that changes it, whoever makes the write, nor crosses callers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet.app import create_app
from msnet.settings import Settings
from tests.helpers import MakeCaller, add_client, bearer, org_ids, token_for

MIGRATION = Path(__file__).parents[1] / "migrations" / "versions" / "0035_read_generation.py"
READ = ["directory:read", "directory:write"]


def _untracked() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("read_generation_migration", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UNTRACKED


def _counted(app: Litestar, name: str) -> float:
    return app.state.metrics.registry.get_sample_value(name) or 0.0


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response as the cache must give it back: all but the request id, which is each request's."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    return response.status_code, headers, response.content


async def _generation(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval("SELECT value FROM read_generation")


async def test_every_table_is_tracked_or_listed_as_operational(owner_conn: asyncpg.Connection) -> None:
    tables = {
        r["tablename"]
        for r in await owner_conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    triggered = {
        r["relname"]
        for r in await owner_conn.fetch(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = c.relname || '_generation'"
        )
    }
    assert "offices" in triggered
    assert "organisations" in triggered
    assert tables - triggered == set(_untracked())


async def test_the_generation_changes_at_each_commit_that_writes(owner_conn: asyncpg.Connection) -> None:
    before = await _generation(owner_conn)
    async with owner_conn.transaction():
        await owner_conn.execute("UPDATE organisations SET name = name || '' WHERE slug = 'nowhere'")
        assert await _generation(owner_conn) == before  # at the commit, not at the write
    committed = await _generation(owner_conn)
    assert committed != before
    assert await owner_conn.fetchval("SELECT count(*) FROM read_generation_marks") == 0

    transaction = owner_conn.transaction()
    await transaction.start()
    await owner_conn.execute("UPDATE organisations SET name = name || '' WHERE slug = 'nowhere'")
    await transaction.rollback()
    assert await _generation(owner_conn) == committed

    async with owner_conn.transaction():
        await owner_conn.execute("SELECT 1")
        savepoint = owner_conn.transaction()
        await savepoint.start()
        await owner_conn.execute("DELETE FROM organisations WHERE slug = 'nowhere'")
        await savepoint.rollback()
    assert await _generation(owner_conn) == committed

    await owner_conn.execute("INSERT INTO token_denylist (value, expires_at) VALUES ('jti:x', now())")
    assert await _generation(owner_conn) == committed  # an operational table


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
