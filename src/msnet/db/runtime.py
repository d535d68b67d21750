"""Bring the database up for a command: embedded or external, migrated or checked, stopped after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.db.engine import describe, make_engine, make_sessionmaker
from msnet.errors import StartupError
from msnet.logs import get_logger
from msnet.settings import Settings

log = get_logger("msnet.db")


def prepare(settings: Settings, *, migrate_schema: bool = True, unreachable_ok: bool = False) -> Settings:
    """Check the database is reachable and its schema not ahead of this code (a newer release
    migrated it: :class:`~msnet.db.migrate.SchemaAhead`), then migrate it (with an admin URL) or
    check it is at head. With ``unreachable_ok`` (``msnet serve``), a database out of reach is left
    for the app to wait for: it serves, answering 503 until the database answers, and neither
    migrates nor checks the schema (``/health/ready`` names a schema that is not at head)."""
    assert settings.database_url
    try:
        state, revision = asyncio.run(
            migrate.schema_state(settings.database_admin_url or settings.database_url)
        )
    except StartupError as exc:
        if not unreachable_ok:
            raise
        log.warning("database unreachable: serving, with 503 answers until it is up", error=exc.detail)
        return settings
    if state is migrate.SchemaState.AHEAD:
        raise migrate.ahead_error(revision)
    head = migrate.head_revision()
    if migrate_schema and settings.database_admin_url:
        if revision != head:
            log.info("migrating", database=describe(settings.database_admin_url), to=head, since=revision)
            migrate.upgrade(settings.database_admin_url, settings.database_url)
    elif revision != head:
        raise StartupError(
            f"the schema is at {revision}, not {head}: run `msnet migrate` with MSNET_DATABASE_ADMIN_URL set"
        )
    return settings


@contextmanager
def database(
    settings: Settings, *, migrate_schema: bool = True, unreachable_ok: bool = False
) -> Iterator[Settings]:
    """Settings whose ``database_url`` is reachable and at head (or, with ``unreachable_ok``, out of
    reach: see :func:`prepare`); the embedded server if none was given."""
    if not settings.embedded:
        yield prepare(settings, migrate_schema=migrate_schema, unreachable_ok=unreachable_ok)
        return
    server = EmbeddedServer(settings.data_dir)
    urls = server.start()
    try:
        log.info("embedded PostgreSQL running", data_dir=str(settings.data_dir))
        yield prepare(replace(settings, database_url=urls.app, database_admin_url=urls.admin))
    finally:
        server.stop()
        log.info("embedded PostgreSQL stopped")


@asynccontextmanager
async def cli_session(url: str) -> AsyncIterator[AsyncSession]:
    """One transaction for a CLI command, on an engine of its own."""
    engine = make_engine(url, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()
