"""Migrations that several replicas start at once, and the schema checks an init container and a
serving node make: `msnet migrate --check`, and `msnet serve` refusing a schema a newer release made."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls, bootstrap
from msnet.settings import Settings
from tests.conftest import APP, OWNER, _admin, free_port
from tests.helpers import cli_env, run_cli

FUTURE = "9999_from_a_newer_release"


@pytest.fixture
def fresh(superuser_url: str) -> Iterator[DatabaseUrls]:
    """A database with msnet's roles and nothing else, never migrated."""
    name = f"msnet_fresh_{uuid.uuid4().hex[:10]}"
    urls = asyncio.run(bootstrap(superuser_url, name, OWNER, APP))
    try:
        yield urls
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _versions(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
            return []
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


def _migrating(urls: DatabaseUrls, failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            migrate.upgrade(urls.admin, urls.app)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_migrations_at_once_both_succeed_once(fresh: DatabaseUrls) -> None:
    failures: list[BaseException] = []
    threads = [_migrating(fresh, failures) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert asyncio.run(_versions(fresh.admin)) == [migrate.head_revision()]


def test_a_migration_waits_for_the_lock(fresh: DatabaseUrls) -> None:
    async def run() -> list[str]:
        failures: list[BaseException] = []
        holder = await asyncpg.connect(fresh.admin)  # advisory locks are per database
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", migrate.MIGRATION_LOCK)
            thread = _migrating(fresh, failures)
            deadline = time.monotonic() + 60
            while not await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ):  # until the migration asks for the lock and waits for it
                assert thread.is_alive(), failures
                assert time.monotonic() < deadline, "the migration never asked for the lock"
                await asyncio.sleep(0.02)
            assert thread.is_alive()
            assert await _versions(fresh.admin) == []  # it waits before reading the revision
        finally:
            await holder.close()  # the lock released
        await asyncio.to_thread(thread.join, 120)
        assert failures == []
        return await _versions(fresh.admin)

    assert asyncio.run(run()) == [migrate.head_revision()]


def _at_revision(urls: DatabaseUrls, revision: str) -> None:
    asyncio.run(_admin(urls.admin, f"UPDATE alembic_version SET version_num = '{revision}'"))


def _external(urls: DatabaseUrls, settings: Settings) -> dict[str, str]:
    return cli_env(settings, MSNET_DATABASE_URL=urls.app, MSNET_DATABASE_ADMIN_URL=urls.admin)


def _one_line(result, code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert text in result.stderr


def test_check_at_head(db_urls: DatabaseUrls, settings: Settings) -> None:
    result = run_cli(None, "migrate", "--check", env=_external(db_urls, settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"schema at head ({migrate.head_revision()})"


def test_check_behind(fresh: DatabaseUrls, settings: Settings) -> None:
    result = run_cli(None, "migrate", "--check", env=_external(fresh, settings))
    _one_line(result, 1, "never migrated")
    assert "run `msnet migrate`" in result.stderr
    assert asyncio.run(_versions(fresh.admin)) == []  # a check changes nothing


def test_check_behind_a_known_revision(db_urls: DatabaseUrls, settings: Settings) -> None:
    _at_revision(db_urls, "0001")
    result = run_cli(None, "migrate", "--check", env=_external(db_urls, settings))
    _one_line(result, 1, f"the schema is at 0001, behind this release's {migrate.head_revision()}")


def test_check_ahead(db_urls: DatabaseUrls, settings: Settings) -> None:
    _at_revision(db_urls, FUTURE)
    result = run_cli(None, "migrate", "--check", env=_external(db_urls, settings))
    _one_line(result, 2, f"the schema is at {FUTURE}, newer than this release's")


@pytest.mark.parametrize("admin", [True, False], ids=["owner", "service role only"])
def test_serve_refuses_a_schema_ahead(db_urls: DatabaseUrls, settings: Settings, admin: bool) -> None:
    _at_revision(db_urls, FUTURE)
    env = _external(db_urls, settings)
    if not admin:
        del env["MSNET_DATABASE_ADMIN_URL"]
    result = run_cli(None, "serve", "--port", str(free_port()), env=env)
    _one_line(result, 2, f"the schema is at {FUTURE}, newer than this release's")
    assert asyncio.run(_versions(db_urls.admin)) == [FUTURE]


def test_migrating_a_schema_ahead_is_refused(db_urls: DatabaseUrls) -> None:
    _at_revision(db_urls, FUTURE)
    with pytest.raises(migrate.SchemaAhead, match=FUTURE):
        migrate.upgrade(db_urls.admin, db_urls.app)
