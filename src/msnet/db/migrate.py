"""Alembic, run from code: the only way the schema changes."""

from __future__ import annotations

import asyncio
import functools
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

import msnet
from msnet.db.engine import async_url, describe, plain_url
from msnet.db.generation import renew
from msnet.errors import StartupError

# The key of the session-level advisory lock every migration holds, on a connection of the owner's
# of its own, from before it reads the schema's revision to after it commits: two replicas that
# migrate at once take turns, and the second finds the schema at head. ASCII "msnetmig".
MIGRATION_LOCK = 0x6D736E65746D6967


class SchemaState(Enum):
    HEAD = "head"
    BEHIND = "behind"
    AHEAD = "ahead"  # migrated by a newer release: a revision this code does not know


class SchemaAhead(StartupError):
    """The schema was migrated by a newer release of msnet than this one."""


def migrations_dir() -> Path:
    package = Path(msnet.__file__).parent
    installed = package / "migrations"  # wheels carry them inside the package
    return installed if installed.is_dir() else package.parents[1] / "migrations"


def alembic_config(admin_url: str | None = None, app_role: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if admin_url:
        cfg.attributes["url"] = async_url(admin_url)
    if app_role:
        cfg.attributes["app_role"] = app_role
    return cfg


def role_of(url: str) -> str:
    user = urlsplit(url).username
    if not user:
        raise ValueError("the database URL must name its user")
    return user


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migration scripts, read once: they do not change while the process runs."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


def state_of(revision: str | None) -> SchemaState:
    """Where a schema at ``revision`` (None: never migrated) stands against this code's migrations."""
    if revision == head_revision():
        return SchemaState.HEAD
    if revision is None:
        return SchemaState.BEHIND
    try:
        known = _scripts().get_revision(revision)
    except CommandError:
        known = None
    return SchemaState.BEHIND if known is not None else SchemaState.AHEAD


def ahead_error(revision: str | None) -> SchemaAhead:
    return SchemaAhead(
        f"the schema is at {revision}, newer than this release's {head_revision()}: "
        "a newer msnet migrated it; run that release (or restore a backup taken before it)"
    )


async def revision_of(conn: asyncpg.Connection) -> str | None:
    """The revision the database of ``conn`` is at; None if it was never migrated."""
    if not await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
        return None
    return await conn.fetchval("SELECT version_num FROM alembic_version")


async def schema_state(url: str) -> tuple[SchemaState, str | None]:
    """The state and revision of the schema at ``url`` (any role that may read alembic_version)."""
    try:
        conn = await asyncpg.connect(plain_url(url), timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise StartupError(f"cannot reach the database at {describe(url)}: {exc}") from None
    try:
        revision = await revision_of(conn)
    finally:
        await conn.close()
    return state_of(revision), revision


async def _upgrade_locked(admin_url: str, app_url: str, revision: str) -> None:
    conn = await asyncpg.connect(plain_url(admin_url), timeout=10)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            current = await revision_of(conn)
            if state_of(current) is SchemaState.AHEAD:
                raise ahead_error(current)
            # Alembic runs its own event loop on its own connection: in a thread of its own.
            await asyncio.to_thread(command.upgrade, alembic_config(admin_url, role_of(app_url)), revision)
            await renew(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()


def upgrade(admin_url: str, app_url: str, revision: str = "head") -> None:
    """Migrate as the owner, granting the service role (the user of ``app_url``) what it needs, under
    the MIGRATION_LOCK advisory lock; SchemaAhead if a newer release migrated the schema."""
    asyncio.run(_upgrade_locked(admin_url, app_url, revision))
