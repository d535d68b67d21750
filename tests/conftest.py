"""Tests run against a real PostgreSQL whose schema is built by running the migrations.

The embedded server by default; MSNET_TEST_DATABASE_URL (a superuser URL, e.g.
postgresql://postgres@127.0.0.1:5432/postgres) points them at an existing server. Each test gets a
database of its own, cloned from a template that the migrations built once per run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet import logs
from msnet.app import create_app
from msnet.auth.keys import new_secret_key
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls, bootstrap, embedded_postgres, with_user_and_db
from msnet.settings import Settings

OWNER = "msnet_test_owner"
APP = "msnet_test_app"
TEST_ISSUER = "http://127.0.0.1"
TEST_SECRET_KEY = new_secret_key()

logs.configure("warning", "json")


@pytest.fixture(scope="session")
def superuser_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("MSNET_TEST_DATABASE_URL"):
        yield url
        return
    server = embedded_postgres().get_server(tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template(superuser_url: str) -> Iterator[str]:
    """A database migrated to head, to clone for each test."""
    name = f"msnet_tpl_{uuid.uuid4().hex[:10]}"
    urls = asyncio.run(bootstrap(superuser_url, name, OWNER, APP))
    migrate.upgrade(urls.admin, urls.app)
    try:
        yield name
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_urls(superuser_url: str, template: str) -> Iterator[DatabaseUrls]:
    name = f"msnet_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(
        _admin(
            superuser_url,
            f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{OWNER}" STRATEGY FILE_COPY',
        )
    )
    try:
        yield DatabaseUrls(
            app=with_user_and_db(superuser_url, APP, name), admin=with_user_and_db(superuser_url, OWNER, name)
        )
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(db_urls: DatabaseUrls, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_urls.app,
        database_admin_url=db_urls.admin,
        data_dir=tmp_path,
        public_url=TEST_ISSUER,
        secret_key=TEST_SECRET_KEY,
        worker=False,  # no outbox worker inside the app under test: tests run the workers they mean to
        webhook_private_addresses=True,  # the webhook receivers of the tests listen on 127.0.0.1
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app, base_url=TEST_ISSUER) as test_client:
        yield test_client


@pytest.fixture
async def owner_conn(db_urls: DatabaseUrls) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the schema owner, to look behind the service's back."""
    conn = await asyncpg.connect(db_urls.admin)
    try:
        yield conn
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app served over real HTTP by uvicorn, in a thread, with this node's issuer as its own URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    live = Settings(**{**settings.__dict__, "public_url": base, "port": port})
    server = uvicorn.Server(
        uvicorn.Config(create_app(live), host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
