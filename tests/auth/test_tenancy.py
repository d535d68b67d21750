"""Row-level security, seen from the service role: what a transaction may see and write depends only on
the organisation it says it acts for (``msnet.org``, transaction-local), and nothing of one
organisation's transaction survives on a pooled connection into the next."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from msnet.audit.service import verify
from msnet.auth.models import OAuthClient
from msnet.db.embedded import DatabaseUrls
from msnet.db.engine import ORG_KEY, PRESENT_KEY, async_url, make_sessionmaker, set_organisation
from msnet.settings import Settings
from tests.helpers import add_client, bearer, clients_as_owner, org_ids

SLUGS = ("au", "eu", "un")
RLS_VIOLATION = "new row violates row-level security policy"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small pool, so that the service's few connections serve every organisation in turn; failed
    authentications counted by the hour (the intervals are the clock's: see ``failures_in_one_interval``)."""
    return replace(settings, db_pool_size=1, auth_failure_window=3600)


async def failures_in_one_interval(settings: Settings, seconds: float = 60) -> None:
    """Wait, if need be, until the next ``seconds`` lie in one interval of failed authentications:
    failures that straddle an interval's end are recorded once an interval."""
    left = settings.auth_failure_window - time.time() % settings.auth_failure_window
    if left < seconds:
        await asyncio.sleep(left + 0.5)


@pytest.fixture
async def clients(settings: Settings) -> dict[str, list[Any]]:
    """Three organisations with an admin client and two more clients each."""
    made: dict[str, list[Any]] = {}
    for slug in SLUGS:
        made[slug] = [await add_client(settings, slug, ["org:admin"])]
        made[slug] += [await add_client(settings, slug, ["directory:read"]) for _ in range(2)]
    return made


@pytest.fixture
async def orgs(clients: dict[str, list[Any]], owner_conn: asyncpg.Connection) -> dict[str, uuid.UUID]:
    return await org_ids(owner_conn)  # type: ignore[return-value]


def ids_of(clients: dict[str, list[Any]], slug: str) -> set[str]:
    return {c.client_id for c in clients[slug]}


async def app_conn(db_urls: DatabaseUrls) -> asyncpg.Connection:
    return await asyncpg.connect(db_urls.app)


INSERT = (
    "INSERT INTO oauth_clients (id, organisation_id, client_id, name, scopes, secret_hash, created_by)"
    " VALUES ($1, $2, $3, 'planted', '{org:admin}', 'x', 'test')"
)


# --- the database alone ----------------------------------------------------------------------


async def test_without_an_organisation_nothing_is_visible_or_writable(
    db_urls: DatabaseUrls,
    clients: dict[str, list[Any]],
    orgs: dict[str, uuid.UUID],
    owner_conn: asyncpg.Connection,
) -> None:
    assert len(await clients_as_owner(owner_conn)) == 9  # they exist
    conn = await app_conn(db_urls)
    try:
        assert await conn.fetchval("SELECT current_setting('msnet.org', true)") is None
        assert await conn.fetch("SELECT * FROM oauth_clients") == []
        for org in orgs.values():  # nor by asking for an organisation's rows in the query
            assert await conn.fetch("SELECT * FROM oauth_clients WHERE organisation_id = $1", org) == []
        async with conn.transaction():  # an empty value is no organisation either
            await conn.execute("SELECT set_config('msnet.org', '', true)")
            assert await conn.fetch("SELECT * FROM oauth_clients") == []
        assert await conn.execute("UPDATE oauth_clients SET name = 'taken'") == "UPDATE 0"
        assert await conn.execute("DELETE FROM oauth_clients") == "DELETE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=RLS_VIOLATION):
            await conn.execute(INSERT, uuid.uuid4(), orgs["au"], "au.planted")
    finally:
        await conn.close()
    rows = await clients_as_owner(owner_conn)
    assert len(rows) == 9
    assert "au.planted" not in rows
    assert "taken" not in {r["name"] for r in rows.values()}


async def test_an_organisation_sees_and_writes_only_its_own_rows(
    db_urls: DatabaseUrls,
    clients: dict[str, list[Any]],
    orgs: dict[str, uuid.UUID],
    owner_conn: asyncpg.Connection,
) -> None:
    before = await clients_as_owner(owner_conn)
    eu_client = clients["eu"][0].client_id
    conn = await app_conn(db_urls)

    async def as_au(statement: str, *args: Any) -> Any:
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs["au"]))
            if statement.startswith("SELECT"):
                return await conn.fetch(statement, *args)
            return await conn.execute(statement, *args)

    try:
        visible = await as_au("SELECT client_id, organisation_id FROM oauth_clients")
        assert {r["client_id"] for r in visible} == ids_of(clients, "au")
        assert {r["organisation_id"] for r in visible} == {orgs["au"]}
        assert await as_au("SELECT * FROM oauth_clients WHERE client_id = $1", eu_client) == []
        assert await as_au("SELECT * FROM oauth_clients WHERE organisation_id = $1", orgs["eu"]) == []
        assert await as_au("UPDATE oauth_clients SET name = 'taken' WHERE client_id = $1", eu_client) == (
            "UPDATE 0"
        )
        assert await as_au("DELETE FROM oauth_clients WHERE organisation_id = $1", orgs["eu"]) == "DELETE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=RLS_VIOLATION):
            await as_au(INSERT, uuid.uuid4(), orgs["eu"], "eu.planted")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=RLS_VIOLATION):  # nor move one over
            await as_au(
                "UPDATE oauth_clients SET organisation_id = $1 WHERE client_id = $2",
                orgs["eu"],
                clients["au"][1].client_id,
            )
        # what it may do, it can: the checks above fail for the organisation, not for the statement
        assert await as_au(INSERT, uuid.uuid4(), orgs["au"], "au.planted") == "INSERT 0 1"
    finally:
        await conn.close()
    after = await clients_as_owner(owner_conn)
    assert set(after) == set(before) | {"au.planted"}
    assert after["au.planted"]["organisation_id"] == orgs["au"]
    assert {k: v for k, v in after.items() if k != "au.planted"} == before


async def test_a_pooled_connection_carries_nothing_from_one_organisation_to_the_next(
    db_urls: DatabaseUrls, clients: dict[str, list[Any]], orgs: dict[str, uuid.UUID]
) -> None:
    engine = create_async_engine(async_url(db_urls.app), pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    clients_query = select(OAuthClient.client_id)
    whoami = text("SELECT pg_backend_pid(), current_setting('msnet.org', true)")

    async def visible(org: uuid.UUID | None) -> tuple[int, set[str]]:
        async with sessions() as session:
            if org is not None:
                session.info[ORG_KEY] = org
            async with session.begin():
                pid, setting = (await session.execute(whoami)).one()
                assert setting == (str(org) if org else "")
                return pid, set(await session.scalars(clients_query))

    try:
        pid, au_rows = await visible(orgs["au"])
        assert au_rows == ids_of(clients, "au")
        assert await visible(orgs["eu"]) == (pid, ids_of(clients, "eu"))
        assert await visible(None) == (pid, set())

        # a transaction that fails half-way leaves nothing behind either
        async def fail_half_way() -> None:
            async with sessions() as session:
                session.info[ORG_KEY] = orgs["au"]
                async with session.begin():
                    assert set(await session.scalars(clients_query)) == ids_of(clients, "au")
                    raise RuntimeError("half-way")

        with pytest.raises(RuntimeError, match="half-way"):
            await fail_half_way()
        assert await visible(None) == (pid, set())

        # nor does one that switched organisation part-way (as the token endpoint does)
        async with sessions() as session, session.begin():
            assert set(await session.scalars(clients_query)) == set()
            await set_organisation(session, orgs["un"])
            assert set(await session.scalars(clients_query)) == ids_of(clients, "un")
        assert await visible(None) == (pid, set())
        assert await visible(orgs["eu"]) == (pid, ids_of(clients, "eu"))

        # and a connection used without a session (no after_begin hook at all) sees nothing
        async with engine.connect() as conn:
            assert (await conn.execute(whoami)).one() == (pid, "")
            assert list(await conn.execute(clients_query)) == []
            await conn.rollback()
    finally:
        await engine.dispose()


async def test_the_service_role_cannot_write_for_another_organisation_through_a_session(
    db_urls: DatabaseUrls,
    clients: dict[str, list[Any]],
    orgs: dict[str, uuid.UUID],
    owner_conn: asyncpg.Connection,
) -> None:
    before = await clients_as_owner(owner_conn)
    engine = create_async_engine(async_url(db_urls.app), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            session.info[ORG_KEY] = orgs["au"]
            with pytest.raises(DBAPIError, match=RLS_VIOLATION):
                async with session.begin():
                    session.add(
                        OAuthClient(
                            organisation_id=orgs["eu"],
                            client_id="eu.planted",
                            name="planted",
                            scopes=["org:admin"],
                            secret_hash="x",
                            created_by="test",
                        )
                    )
    finally:
        await engine.dispose()
    assert await clients_as_owner(owner_conn) == before


# --- the service, many requests at once --------------------------------------------------------


async def _tokens(http: httpx.AsyncClient, admins: dict[str, Any]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for slug, admin in admins.items():
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(admin.client_id, admin.client_secret),
        )
        assert response.status_code == 200, response.text
        tokens[slug] = response.json()["access_token"]
    return tokens


async def test_interleaved_concurrent_requests_see_only_their_own_clients(
    live_server: str, clients: dict[str, list[Any]]
) -> None:
    """500 requests in flight fifty at a time, over real HTTP (the test client runs one request at a
    time), three organisations taking turns on a pool of two connections."""
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        tokens = await _tokens(http, {slug: clients[slug][0] for slug in SLUGS})

        async def call(n: int) -> tuple[int, str, httpx.Response]:
            caller = SLUGS[n % len(SLUGS)]
            return (
                n,
                caller,
                await http.get(f"/v1/organisations/{caller}/clients", headers=bearer(tokens[caller])),
            )

        results = []
        for start in range(0, 500, 50):
            results += await asyncio.gather(*(call(n) for n in range(start, start + 50)))

    assert len(results) == 500
    assert {caller for _, caller, _ in results} == set(SLUGS)
    for n, caller, response in results:
        assert response.status_code == 200, (n, response.text)
        page = response.json()
        listed = [c["client_id"] for c in page["items"]]
        assert set(listed) == ids_of(clients, caller), (n, caller, listed)
        assert len(listed) == page["total"] == 3
        assert {c["organisation"] for c in page["items"]} == {caller}


@pytest.mark.parametrize("denial", ["cross_organisation", "deleted_client"])
async def test_denials_under_load_do_not_starve_the_pool(
    live_server: str,
    settings: Settings,
    clients: dict[str, list[Any]],
    owner_conn: asyncpg.Connection,
    denial: str,
) -> None:
    """A denial is audited in a transaction of its own. Twenty of them at once, beside twenty ordinary
    requests, on a pool of two connections: each is answered (403 or 401, accounted for), none waits
    for a connection that a request waiting like it holds."""
    doomed = await add_client(settings, "au", ["org:admin"])
    async with httpx.AsyncClient(base_url=live_server, timeout=120) as http:
        tokens = await _tokens(http, {"au": clients["au"][0], "eu": clients["eu"][0], "doomed": doomed})
        if denial == "deleted_client":
            deleted = await http.delete(
                f"/v1/organisations/au/clients/{doomed.client_id}", headers=bearer(tokens["au"])
            )
            assert deleted.status_code == 204
            denied_call, denied_status, action = ("doomed", "au"), 401, "auth.failed"
        else:
            denied_call, denied_status, action = ("eu", "au"), 403, "access.denied"
        audited_before = await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = $1", action)
        await failures_in_one_interval(settings)

        async def call(n: int) -> tuple[int, httpx.Response]:
            caller, target = denied_call if n % 2 else ("au", "au")
            return n, await http.get(f"/v1/organisations/{target}/clients", headers=bearer(tokens[caller]))

        results = await asyncio.gather(*(call(n) for n in range(40)))

    statuses = [(n, r.status_code) for n, r in results]
    assert statuses == [(n, denied_status if n % 2 else 200) for n in range(40)], [
        (n, r.status_code, r.text[:200]) for n, r in results if r.status_code >= 500
    ][:3]
    audited = await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = $1", action)
    # a denial is recorded each time; failed authentications are counted, the first of an interval
    # recorded at once and the others with their count when it closes (tests/auth/test_failures.py)
    assert audited - audited_before == (20 if action == "access.denied" else 1)


# --- the audit log -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'operator'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
@pytest.mark.parametrize("as_org", [True, False])
async def test_the_service_role_cannot_change_audit_entries(
    client: AsyncTestClient,
    db_urls: DatabaseUrls,
    clients: dict[str, list[Any]],
    orgs: dict[str, uuid.UUID],
    owner_conn: asyncpg.Connection,
    statement: str,
    as_org: bool,
) -> None:
    admin = clients["au"][0]
    for _ in range(2):  # entries made by the service itself
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(admin.client_id, admin.client_secret),
        )
        assert response.status_code == 200
    before = await owner_conn.fetch("SELECT * FROM audit_log ORDER BY seq")
    assert len(before) >= 2
    conn = await app_conn(db_urls)
    try:
        async with conn.transaction():
            if as_org:
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs["au"]))
                assert await conn.fetchval("SELECT count(*) FROM audit_log") >= 2
            with pytest.raises(
                asyncpg.InsufficientPrivilegeError, match="permission denied for table audit_log"
            ):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert await owner_conn.fetch("SELECT * FROM audit_log ORDER BY seq") == before
    report = await verify(db_urls.admin)
    assert report.ok, report.reason
    assert report.checked == len(before)


async def test_a_session_or_sign_in_is_seen_by_its_organisation_or_by_whoever_presents_its_secret(
    orgs: dict[str, uuid.UUID], owner_conn: asyncpg.Connection, db_urls: DatabaseUrls
) -> None:
    """``web_sessions`` and ``web_signins`` are found by the hash of a secret the browser holds before
    anyone knows whose they are: another organisation sees neither row unless it presents that hash,
    and even then cannot write it as its own."""
    ids = await org_ids(owner_conn)
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(ids["au"]))
        person = await owner_conn.fetchval(
            "INSERT INTO people (id, organisation_id, issuer, subject, roles) "
            "VALUES (gen_random_uuid(), $1, 'https://idp.au.example', 'amina', '{staff}') RETURNING id",
            ids["au"],
        )
        await owner_conn.execute(
            "INSERT INTO web_sessions (id, token_hash, person_id, organisation_id, expires_at) "
            "VALUES (gen_random_uuid(), 'session-hash', $1, $2, now() + interval '1 hour')",
            person,
            ids["au"],
        )
        await owner_conn.execute(
            "INSERT INTO web_signins (state_hash, organisation_id, nonce, code_verifier, browser_hash, "
            "next_path, expires_at) VALUES ('state-hash', $1, 'n', 'v', 'b', '/', now() + interval '5 minutes')",
            ids["au"],
        )
    conn = await app_conn(db_urls)
    try:

        async def seen(org: str, presented: dict[str, str]) -> tuple[int, int]:
            async with conn.transaction():
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(ids[org]))
                for setting, digest in presented.items():
                    await conn.execute("SELECT set_config($1, $2, true)", setting, digest)
                return (
                    await conn.fetchval("SELECT count(*) FROM web_sessions"),
                    await conn.fetchval("SELECT count(*) FROM web_signins"),
                )

        assert await seen("au", {}) == (1, 1)
        assert await seen("eu", {}) == (0, 0)
        assert await seen("eu", {"msnet.session": "other-hash", "msnet.signin": "other-hash"}) == (0, 0)
        assert await seen("eu", {"msnet.session": "session-hash", "msnet.signin": "state-hash"}) == (1, 1)
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(ids["eu"]))
            await conn.execute("SELECT set_config('msnet.session', 'session-hash', true)")
            update = conn.execute("UPDATE web_sessions SET language = 'fr'")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await update
    finally:
        await conn.close()


async def test_a_session_s_person_is_seen_by_whoever_presents_the_session_s_secret_to_read_only(
    orgs: dict[str, uuid.UUID], owner_conn: asyncpg.Connection, db_urls: DatabaseUrls
) -> None:
    """A page reads its session and the session's person in one statement (migration 0038): the
    person is visible to a transaction that presents their session's hash, acting for no
    organisation or another one, while the session has not expired; no other person of theirs is, and
    the person cannot be written so."""
    ids = {**orgs, "": None}
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(ids["au"]))
        amina, other = [
            await owner_conn.fetchval(
                "INSERT INTO people (id, organisation_id, issuer, subject, roles) "
                "VALUES (gen_random_uuid(), $1, 'https://idp.au.example', $2, '{staff}') RETURNING id",
                ids["au"],
                subject,
            )
            for subject in ("amina", "other")
        ]
        for token_hash, expires in (
            ("amina-hash", timedelta(hours=1)),
            ("expired-hash", timedelta(hours=-1)),
        ):
            await owner_conn.execute(
                "INSERT INTO web_sessions (id, token_hash, person_id, organisation_id, expires_at) "
                "VALUES (gen_random_uuid(), $3, $1, $2, now() + $4)",
                amina,
                ids["au"],
                token_hash,
                expires,
            )
    conn = await app_conn(db_urls)
    try:

        async def seen(org: str, presented: str | None) -> set[uuid.UUID]:
            async with conn.transaction():
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(ids[org] or ""))
                if presented:
                    await conn.execute("SELECT set_config('msnet.session', $1, true)", presented)
                return {r["id"] for r in await conn.fetch("SELECT id FROM people")} & {amina, other}

        assert await seen("au", None) == {amina, other}
        assert await seen("", None) == set()
        assert await seen("eu", None) == set()
        assert await seen("", "other-hash") == set()
        assert await seen("", "amina-hash") == {amina}
        assert await seen("eu", "amina-hash") == {amina}
        assert await seen("", "expired-hash") == set()
        assert await seen("eu", "expired-hash") == set()
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.session', 'amina-hash', true)")
            assert await conn.execute("UPDATE people SET name = 'changed'") == "UPDATE 0"
    finally:
        await conn.close()
    assert await owner_conn.fetchval("SELECT count(*) FROM people WHERE name = 'changed'") == 0


async def test_a_secret_presented_with_the_organisation_is_shown_to_that_transaction_only(
    orgs: dict[str, uuid.UUID], owner_conn: asyncpg.Connection, db_urls: DatabaseUrls
) -> None:
    """A page presents its cookie's hash in its transaction's first statement (``PRESENT_KEY``): that
    transaction finds the session; the next one of the same database session, and any other, do not."""
    token_hash = uuid.uuid4().hex
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs["au"]))
        person = await owner_conn.fetchval(
            "INSERT INTO people (id, organisation_id, issuer, subject, roles) "
            "VALUES (gen_random_uuid(), $1, 'https://idp.au.example', $2, '{staff}') RETURNING id",
            orgs["au"],
            token_hash,
        )
        await owner_conn.execute(
            "INSERT INTO web_sessions (id, token_hash, person_id, organisation_id, expires_at) "
            "VALUES (gen_random_uuid(), $1, $2, $3, now() + interval '1 hour')",
            token_hash,
            person,
            orgs["au"],
        )
    engine = create_async_engine(async_url(db_urls.app), pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    found = text("SELECT count(*) FROM web_sessions WHERE token_hash = :h")
    try:
        async with sessions() as session:
            session.info[PRESENT_KEY] = ("msnet.session", token_hash)
            async with session.begin():
                assert await session.scalar(found, {"h": token_hash}) == 1
            async with session.begin():
                assert await session.scalar(found, {"h": token_hash}) == 0
        async with sessions() as session, session.begin():
            assert await session.scalar(found, {"h": token_hash}) == 0
    finally:
        await engine.dispose()
