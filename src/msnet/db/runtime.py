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


def prepare(settings: Settings, *, migrate_schema: bool = True) -> Settings:
    """Check the database is reachable and its schema not ahead of this code (a newer release
    migrated it: :class:`~msnet.db.migrate.SchemaAhead`), then migrate it (with an admin URL) or
    check it is at head."""
    assert settings.database_url
    state, revision = asyncio.run(migrate.schema_state(settings.database_admin_url or settings.database_url))
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
def database(settings: Settings, *, migrate_schema: bool = True) -> Iterator[Settings]:
    """Settings whose ``database_url`` is reachable and at head; the embedded server if none was given."""
    if not settings.embedded:
        yield prepare(settings, migrate_schema=migrate_schema)
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
