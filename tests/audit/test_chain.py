"""The audit chain against the real database: what an entry holds, that the chain verifies, that
verify names the first bad entry after each kind of tampering, that the log is append-only for the
service role and (while its triggers are on) for the owner, that concurrent writers never fork it,
and that row-level security keeps each organisation to its own entries."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import rfc8785
from alembic import command
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.audit import service
from msnet.audit.models import AuditEntry
from msnet.audit.service import GENESIS, AuditEvent, VerifyReport, record, verify
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls
from msnet.db.engine import ORG_KEY, async_url, make_engine, make_sessionmaker
from msnet.organisations.schemas import OrganisationCreate
from msnet.organisations.service import create_organisation
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER

COLUMNS = (
    "seq, id, at, organisation_id, actor, action, resource_type, resource_id, outcome, "
    "request_id, source, payload_digest, prev_hash, hash"
)


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker]:
    """Sessions as the service role (no BYPASSRLS), as the app makes them."""
    engine = make_engine(settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def orgs(sessions: async_sessionmaker) -> list[uuid.UUID]:
    async with sessions() as session, session.begin():
        created = [
            await create_organisation(session, OrganisationCreate(slug=slug, name=name), origin=TEST_ISSUER)
            for slug, name in (("au", "African Union"), ("eu", "European Union"), ("un", "United Nations"))
        ]
    return [org.id for org in created]


def an_event(org: uuid.UUID | None, n: int = 0, **changes: Any) -> AuditEvent:
    event = AuditEvent(
        organisation_id=org,
        actor="client:msc_test" if org else "anonymous",
        action="office.create" if org else "auth.failed",
        resource_type="office",
        resource_id=f"office-{n}",
        outcome="success" if org else "failure",
        request_id=f"req-{n}",
        source="192.0.2.10",
        payload={"n": n, "name": f"Office {n}"},
    )
    return dataclasses.replace(event, **changes)


async def append(sessions: async_sessionmaker, event: AuditEvent, *, as_org: uuid.UUID | None = None) -> None:
    """Record ``event`` in a transaction of its own, for ``as_org`` (the event's organisation by default)."""
    org = as_org if as_org is not None else event.organisation_id
    async with sessions() as session:
        if org is not None:
            session.info[ORG_KEY] = org
        async with session.begin():
            await record(session, event)


@pytest.fixture
async def chain(sessions: async_sessionmaker, orgs: list[uuid.UUID], db_urls: DatabaseUrls) -> str:
    """Six entries (two organisations, and one without an organisation); the owner's URL."""
    au, eu, _ = orgs
    for n, org in enumerate((au, eu, au, None, eu, au), start=1):
        await append(sessions, an_event(org, n))
    assert await verify(db_urls.admin) == VerifyReport(6)
    return db_urls.admin


async def entries(owner_conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await owner_conn.fetch(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq")


async def head(owner_conn: asyncpg.Connection) -> tuple[int, str]:
    row = await owner_conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1")
    return row["seq"], row["hash"]


async def tamper(owner_conn: asyncpg.Connection, *statements: tuple[Any, ...]) -> list[str]:
    """As the schema owner, behind the service's back: lift the triggers, and forced row-level security
    (whose policies give the owner no UPDATE or DELETE), run ``(sql, *args)`` statements, restore both."""
    async with owner_conn.transaction():
        await owner_conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await owner_conn.execute("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
        statuses = [await owner_conn.execute(sql, *args) for sql, *args in statements]
        await owner_conn.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
        await owner_conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    return statuses


def named(row: asyncpg.Record) -> str:
    return f"entry {row['seq']} (id {row['id']})"


# --- what an entry holds ---------------------------------------------------------------------


async def test_an_event_is_stored_with_its_digest_not_its_payload(
    sessions: async_sessionmaker, orgs: list[uuid.UUID], owner_conn: asyncpg.Connection
) -> None:
    au = orgs[0]
    payload = {"expert": "e-17", "email": "amina.diallo@example.org", "phone": "+221 77 000 00 00"}
    before = datetime.now(UTC)
    await append(
        sessions,
        AuditEvent(
            organisation_id=au,
            actor="client:msc_abc",
            action="expert.contact.read",
            resource_type="expert",
            resource_id="e-17",
            outcome="success",
            request_id="req-1",
            source="203.0.113.5",
            payload=payload,
        ),
    )
    (row,) = await entries(owner_conn)
    digest = hashlib.sha256(rfc8785.dumps(payload)).hexdigest()
    stored_fields = dict(row)
    for key in ("id", "at", "hash"):
        stored_fields.pop(key)
    assert stored_fields == {
        "seq": 1,
        "organisation_id": au,
        "actor": "client:msc_abc",
        "action": "expert.contact.read",
        "resource_type": "expert",
        "resource_id": "e-17",
        "outcome": "success",
        "request_id": "req-1",
        "source": "203.0.113.5",
        "payload_digest": digest,
        "prev_hash": GENESIS,
    }
    assert uuid.UUID(str(row["id"])).version == 7
    assert before <= row["at"] <= datetime.now(UTC) + timedelta(seconds=1)
    stored = await owner_conn.fetchval("SELECT audit_log::text FROM audit_log")
    assert "amina" not in stored
    assert "+221" not in stored
    # The hash, recomputed from the documented rule rather than the service's own code.
    canonical = rfc8785.dumps(
        {
            "seq": 1,
            "id": str(row["id"]),
            "at": row["at"].astimezone(UTC).isoformat(timespec="microseconds"),
            "organisation_id": str(au),
            "actor": "client:msc_abc",
            "action": "expert.contact.read",
            "resource_type": "expert",
            "resource_id": "e-17",
            "outcome": "success",
            "request_id": "req-1",
            "source": "203.0.113.5",
            "payload_digest": digest,
            "prev_hash": GENESIS,
        }
    )
    assert row["hash"] == hashlib.sha256(GENESIS.encode() + canonical).hexdigest()
    assert await head(owner_conn) == (1, row["hash"])


def test_the_payload_digest_is_canonical() -> None:
    assert service.payload_digest(None) is None
    assert service.payload_digest({"a": 1, "b": [1.0, "é"]}) == service.payload_digest(
        {"b": [1, "é"], "a": 1}
    )
    assert service.payload_digest({"a": 1}) != service.payload_digest({"a": 2})
    some_id = uuid.UUID("0190f2a4-0000-7000-8000-000000000000")
    assert (
        service.payload_digest({"id": some_id})
        == hashlib.sha256(rfc8785.dumps({"id": str(some_id)})).hexdigest()
    )


def test_an_event_must_have_a_known_outcome() -> None:
    with pytest.raises(ValueError, match="outcome"):
        an_event(None, outcome="ok")


# --- verify ------------------------------------------------------------------------------------


async def test_an_empty_log_verifies(db_urls: DatabaseUrls) -> None:
    report = await verify(db_urls.admin)
    assert report == VerifyReport(checked=0, first_bad=None, reason=None)
    assert report.ok


async def test_the_chain_verifies(chain: str, owner_conn: asyncpg.Connection) -> None:
    rows = await entries(owner_conn)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["prev_hash"] for r in rows] == [GENESIS] + [r["hash"] for r in rows[:-1]]
    assert await head(owner_conn) == (6, rows[-1]["hash"])
    for batch_size in (1, 4, 1000):  # across batch boundaries, and in one
        report = await verify(chain, batch_size=batch_size)
        assert (report.checked, report.first_bad, report.reason) == (6, None, None)
    assert await verify(async_url(chain)) == VerifyReport(6)  # an SQLAlchemy URL does as well


async def test_an_altered_entry_is_named(chain: str, owner_conn: asyncpg.Connection) -> None:
    assert await tamper(owner_conn, ("UPDATE audit_log SET actor = 'operator' WHERE seq = 3",)) == [
        "UPDATE 1"
    ]
    bad = (await entries(owner_conn))[2]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (2, 3)
    assert (
        report.reason
        == f"{named(bad)}: its contents do not match its hash (the entry was altered, or forged)"
    )


async def test_a_changed_payload_digest_is_caught(chain: str, owner_conn: asyncpg.Connection) -> None:
    forged = service.payload_digest({"n": 99})
    assert await tamper(owner_conn, ("UPDATE audit_log SET payload_digest = $1 WHERE seq = 5", forged)) == [
        "UPDATE 1"
    ]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (4, 5)
    assert "do not match its hash" in (report.reason or "")


async def test_a_deleted_entry_is_named(chain: str, owner_conn: asyncpg.Connection) -> None:
    before = await entries(owner_conn)
    assert await tamper(owner_conn, ("DELETE FROM audit_log WHERE seq = 3",)) == ["DELETE 1"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (2, 4)
    assert (
        report.reason
        == f"{named(before[3])}: it comes after {named(before[1])}, so entry 3 is missing (deleted?)"
    )


async def test_deleted_first_entries_are_named(chain: str, owner_conn: asyncpg.Connection) -> None:
    before = await entries(owner_conn)
    assert await tamper(owner_conn, ("DELETE FROM audit_log WHERE seq <= 2",)) == ["DELETE 2"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (0, 3)
    assert report.reason == (
        f"{named(before[2])}: it is the first entry in the log, so entries 1 to 2 are missing (deleted?)"
    )


@pytest.mark.parametrize(
    ("deleted", "missing"), [(1, "entry 6 is missing"), (2, "entries 5 to 6 are missing")]
)
async def test_a_deleted_tail_is_caught_by_the_head(
    chain: str, owner_conn: asyncpg.Connection, deleted: int, missing: str
) -> None:
    before = await entries(owner_conn)
    last = 6 - deleted
    assert await tamper(owner_conn, ("DELETE FROM audit_log WHERE seq > $1", last)) == [f"DELETE {deleted}"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (last, last + 1)
    assert report.reason == (
        f"the log ends at {named(before[last - 1])} but the head records 6 entries, so {missing} "
        "(the tail was deleted?)"
    )


async def test_a_log_emptied_behind_the_head_is_caught(chain: str, owner_conn: asyncpg.Connection) -> None:
    assert await tamper(owner_conn, ("DELETE FROM audit_log",)) == ["DELETE 6"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (0, 1)
    assert report.reason == (
        "the log is empty but the head records 6 entries, so entries 1 to 6 are missing (the tail was deleted?)"
    )


async def test_reordered_entries_are_named(chain: str, owner_conn: asyncpg.Connection) -> None:
    before = await entries(owner_conn)
    statuses = await tamper(  # swap the contents of entries 3 and 4 (their positions in the chain)
        owner_conn,
        ("UPDATE audit_log SET seq = -1 WHERE seq = 3",),
        ("UPDATE audit_log SET seq = 3 WHERE seq = 4",),
        ("UPDATE audit_log SET seq = 4 WHERE seq = -1",),
    )
    assert statuses == ["UPDATE 1"] * 3
    now = await entries(owner_conn)
    assert now[2]["id"] == before[3]["id"]
    assert now[3]["id"] == before[2]["id"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (2, 3)
    assert report.reason == (
        f"{named(now[2])}: it should follow {named(now[1])} but follows {named(now[3])}: "
        "entries were reordered, or one was inserted before it"
    )


async def _shift_up_after(owner_conn: asyncpg.Connection, seq: int) -> list[tuple[Any, ...]]:
    """Statements that make room for an entry at ``seq + 1``: a unique key cannot shift in one update."""
    last = await owner_conn.fetchval("SELECT max(seq) FROM audit_log")
    return [("UPDATE audit_log SET seq = seq + 1 WHERE seq = $1", s) for s in range(last, seq, -1)]


def _forged(prev: asyncpg.Record, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": uuid.uuid4(),
        "at": prev["at"] + timedelta(microseconds=1),
        "organisation_id": prev["organisation_id"],
        "actor": "client:msc_forger",
        "action": "office.delete",
        "resource_type": "office",
        "resource_id": "office-1",
        "outcome": "success",
        "request_id": None,
        "source": None,
        "payload_digest": None,
        "prev_hash": prev["hash"],
    }


INSERT = (
    f"INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
)


async def test_an_inserted_entry_with_a_made_up_hash_is_named(
    chain: str, owner_conn: asyncpg.Connection
) -> None:
    before = await entries(owner_conn)
    forged = _forged(before[2], 4)
    forged["hash"] = before[3]["hash"]  # the hash of the entry it displaces
    statuses = await tamper(owner_conn, *await _shift_up_after(owner_conn, 3), (INSERT, *forged.values()))
    assert statuses[-1] == "INSERT 0 1"
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (3, 4)
    assert report.reason == (
        f"entry 4 (id {forged['id']}): its contents do not match its hash (the entry was altered, or forged)"
    )


async def test_an_inserted_entry_with_a_valid_hash_breaks_the_next_link(
    chain: str, owner_conn: asyncpg.Connection
) -> None:
    """A forger who knows the rule can make the inserted entry itself check out; the entry after it
    still points at the one before, and that is where verify stops."""
    before = await entries(owner_conn)
    forged = _forged(before[2], 4)
    forged["hash"] = service.entry_hash(forged)
    await tamper(owner_conn, *await _shift_up_after(owner_conn, 3), (INSERT, *forged.values()))
    now = await entries(owner_conn)
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (4, 5)
    assert report.reason == (
        f"{named(now[4])}: it should follow entry 4 (id {forged['id']}) but follows {named(now[2])}: "
        "entries were reordered, or one was inserted before it"
    )


async def test_an_entry_appended_without_the_head_is_named(
    chain: str, owner_conn: asyncpg.Connection
) -> None:
    before = await entries(owner_conn)
    forged = _forged(before[5], 7)
    forged["hash"] = service.entry_hash(forged)
    assert await tamper(owner_conn, (INSERT, *forged.values())) == ["INSERT 0 1"]
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (6, 7)
    assert report.reason == (
        f"entry 7 (id {forged['id']}) is past the head, which ends at entry 6: "
        "it was added without moving the head (inserted behind the log's back?)"
    )


async def test_a_link_to_a_deleted_entry_is_named(chain: str, owner_conn: asyncpg.Connection) -> None:
    """Deleting an entry and renumbering the rest closes the gap in ``seq``, not in the chain."""
    before = await entries(owner_conn)
    renumber = [("UPDATE audit_log SET seq = seq - 1 WHERE seq = $1", s) for s in range(4, 7)]
    await tamper(owner_conn, ("DELETE FROM audit_log WHERE seq = 3",), *renumber)
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (2, 3)
    assert report.reason == (
        f"entry 3 (id {before[3]['id']}): it should follow {named(before[1])} but its prev_hash is the hash "
        "of no entry in the log: the entry it followed was deleted or altered, or one was inserted before it"
    )


async def test_a_rewritten_chain_is_caught_by_the_head(chain: str, owner_conn: asyncpg.Connection) -> None:
    """Rewriting an entry and re-hashing every entry after it leaves only the head to disagree."""
    rows = [dict(r) for r in await entries(owner_conn)]
    rows[1]["actor"] = "operator"
    statements: list[tuple[Any, ...]] = []
    for i in range(1, 6):
        rows[i]["prev_hash"] = rows[i - 1]["hash"]
        rows[i]["hash"] = service.entry_hash(rows[i])
        statements.append(
            (
                "UPDATE audit_log SET actor = $2, prev_hash = $3, hash = $4 WHERE seq = $1",
                rows[i]["seq"],
                rows[i]["actor"],
                rows[i]["prev_hash"],
                rows[i]["hash"],
            )
        )
    await tamper(owner_conn, *statements)
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (5, 6)
    assert report.reason == (
        f"entry 6 (id {rows[5]['id']}) does not have the hash the head recorded for entry 6: "
        "the chain was rewritten up to here"
    )


async def test_a_missing_head_is_reported(chain: str, owner_conn: asyncpg.Connection) -> None:
    assert await owner_conn.execute("DELETE FROM audit_head") == "DELETE 1"
    report = await verify(chain)
    assert (report.checked, report.first_bad) == (0, 0)
    assert not report.ok
    assert report.reason == "the audit head row is missing, so the end of the chain is unknown"


# --- append-only -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE audit_log SET actor = 'operator'", "permission denied for table audit_log"),
        ("DELETE FROM audit_log", "permission denied for table audit_log"),
        ("TRUNCATE audit_log", "permission denied for table audit_log"),
        ("ALTER TABLE audit_log DISABLE TRIGGER USER", "must be owner of table audit_log"),
        ("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY", "must be owner of table audit_log"),
        ("DELETE FROM audit_head", "permission denied for table audit_head"),
        ("INSERT INTO audit_head VALUES (2, 0, 'x')", "permission denied for table audit_head"),
    ],
)
async def test_the_service_role_cannot_change_the_log(
    chain: str, db_urls: DatabaseUrls, orgs: list[uuid.UUID], statement: str, message: str
) -> None:
    conn = await asyncpg.connect(db_urls.app)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs[0]))
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 3  # it can read its own
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match=message):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert await verify(chain) == VerifyReport(6)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'operator' WHERE seq = 2", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_the_owner_cannot_change_the_log_while_the_triggers_are_on(
    chain: str, owner_conn: asyncpg.Connection, statement: str
) -> None:
    """Forced row-level security is lifted first, so it is the triggers that refuse."""
    op = statement.split()[0]
    async with owner_conn.transaction():  # ends in a rollback: the refusal aborts it
        await owner_conn.execute("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
        with pytest.raises(asyncpg.RaiseError) as refused:
            await owner_conn.execute(statement)
    assert refused.value.message == f"audit_log is append-only: {op} refused"
    assert await owner_conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'audit_log'")
    assert len(await entries(owner_conn)) == 6
    assert await verify(chain) == VerifyReport(6)


async def test_row_level_security_gives_the_owner_no_update_or_delete(
    chain: str, owner_conn: asyncpg.Connection
) -> None:
    assert await owner_conn.execute("UPDATE audit_log SET actor = 'operator'") == "UPDATE 0"
    assert await owner_conn.execute("DELETE FROM audit_log") == "DELETE 0"
    assert await verify(chain) == VerifyReport(6)


# --- concurrency -------------------------------------------------------------------------------


async def test_concurrent_writers_keep_one_contiguous_chain(
    sessions: async_sessionmaker, orgs: list[uuid.UUID], owner_conn: asyncpg.Connection, db_urls: DatabaseUrls
) -> None:
    async def writer(n: int) -> None:
        org = orgs[n % len(orgs)]
        async with sessions() as session:
            session.info[ORG_KEY] = org
            async with session.begin():
                await asyncio.sleep(0.001 * (n % 5))
                await record(session, an_event(org, n))
                await asyncio.sleep(0.001)  # hold the head a little, as a request would

    await asyncio.gather(*(writer(n) for n in range(50)))
    rows = await entries(owner_conn)
    assert [r["seq"] for r in rows] == list(range(1, 51))
    assert sorted(r["resource_id"] for r in rows) == sorted(f"office-{n}" for n in range(50))
    assert {r["organisation_id"] for r in rows} == set(orgs)
    assert await head(owner_conn) == (50, rows[-1]["hash"])
    assert await verify(db_urls.admin, batch_size=7) == VerifyReport(50)


# --- tenancy -----------------------------------------------------------------------------------


async def _visible(sessions: async_sessionmaker, org: uuid.UUID | None) -> list[tuple[int, uuid.UUID | None]]:
    async with sessions() as session:
        if org is not None:
            session.info[ORG_KEY] = org
        async with session.begin():
            rows = await session.execute(
                select(AuditEntry.seq, AuditEntry.organisation_id).order_by(AuditEntry.seq)
            )
            return [tuple(r) for r in rows]


async def test_an_organisation_sees_only_its_own_entries(
    chain: str, sessions: async_sessionmaker, orgs: list[uuid.UUID]
) -> None:
    au, eu, un = orgs
    assert await _visible(sessions, au) == [(1, au), (3, au), (6, au)]
    assert await _visible(sessions, eu) == [(2, eu), (5, eu)]
    assert await _visible(sessions, un) == []
    assert await _visible(sessions, None) == []  # not even the entry without an organisation


async def test_an_event_without_an_organisation_needs_no_organisation_set(
    sessions: async_sessionmaker, orgs: list[uuid.UUID], owner_conn: asyncpg.Connection, db_urls: DatabaseUrls
) -> None:
    au, eu, _ = orgs
    await append(sessions, an_event(None, 1))
    for event, as_org in ((an_event(None, 2), au), (an_event(eu, 3), au)):
        with pytest.raises(
            asyncpg.InsufficientPrivilegeError, match="new row violates row-level security policy"
        ):
            await append(sessions, event, as_org=as_org)
    await append(sessions, an_event(au, 4))
    rows = await entries(owner_conn)
    assert [(r["seq"], r["organisation_id"], r["resource_id"]) for r in rows] == [
        (1, None, "office-1"),
        (2, au, "office-4"),
    ]
    assert await verify(db_urls.admin) == VerifyReport(2)


# --- the migration -----------------------------------------------------------------------------


def test_the_migration_downgrades_and_upgrades_again(db_urls: DatabaseUrls) -> None:
    async def catalog() -> tuple[Any, ...]:
        conn = await asyncpg.connect(db_urls.admin)
        try:
            return (
                await conn.fetchval("SELECT to_regclass('audit_log') IS NOT NULL"),
                await conn.fetchval("SELECT to_regclass('audit_head') IS NOT NULL"),
                await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_refuse_change'"),
                await conn.fetchval("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_log_no_%'"),
                await conn.fetchval("SELECT count(*) FROM pg_policy WHERE polname LIKE 'audit_log_%'"),
            )
        finally:
            await conn.close()

    config = migrate.alembic_config(db_urls.admin, migrate.role_of(db_urls.app))
    assert asyncio.run(catalog()) == (True, True, 1, 2, 4)
    command.downgrade(config, "0001")
    assert asyncio.run(catalog()) == (False, False, 0, 0, 0)
    command.upgrade(config, "head")
    assert asyncio.run(catalog()) == (True, True, 1, 2, 4)
    assert asyncio.run(verify(db_urls.admin)) == VerifyReport(0)


def test_an_entry_with_any_text_hashes_as_rfc8785_says() -> None:
    """Control characters, quotes, backslashes, non-ASCII text, line and paragraph separators, DEL and
    characters beyond the BMP in an entry's text are serialised exactly as RFC 8785 does."""
    tricky = 'a"b\\c\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f é ü ∑ \u2028\u2029\ufeff 😀 𝄞 /<>&'
    fields = {
        "seq": 2**40,
        "id": uuid.UUID("0190f2a4-0000-7000-8000-000000000000"),
        "at": datetime(2026, 11, 23, 19, 5, 0, 123456, tzinfo=UTC),
        "organisation_id": None,
        "actor": tricky,
        "action": "office.update",
        "resource_type": tricky[::-1],
        "resource_id": "".join(chr(c) for c in range(0x20)),
        "outcome": "success",
        "request_id": None,
        "source": "2001:db8::1",
        "payload_digest": None,
        "prev_hash": GENESIS,
    }
    expected = rfc8785.dumps(
        {
            **fields,
            "id": "0190f2a4-0000-7000-8000-000000000000",
            "at": "2026-11-23T19:05:00.123456+00:00",
        }
    )
    assert service.canonical(fields) == expected
    assert service.entry_hash(fields) == hashlib.sha256(GENESIS.encode() + expected).hexdigest()
