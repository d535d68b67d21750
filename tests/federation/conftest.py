"""Several live nodes in one test: each an app served over real HTTP on a loopback port of its own,
on a database cloned for it, with its own issuer, secret key, signing key and organisations.

``nodes`` (module-scoped: the module's tests share them) is three nodes, not yet peered. A module
that needs nodes made otherwise (more of them, other settings) makes its own fixture with
``running_nodes``. ``peer(a, b)`` records ``b`` as a peer of ``a`` as ``msnet peer add`` does
(through the service, with ``b``'s real fingerprint); ``peer_both`` does it both ways."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from litestar import Litestar

from msnet.app import create_app
from msnet.auth.keys import KeyRing, load_key_ring, new_secret_key
from msnet.db.embedded import with_user_and_db
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.db.runtime import cli_session
from msnet.federation import service
from msnet.federation.node import fingerprint
from msnet.organisations import schemas as org_schemas
from msnet.organisations import service as organisations
from msnet.settings import Settings
from tests.conftest import APP, OWNER, Clones, free_port
from tests.helpers import cli_env

#: the organisations homed on each node made by ``running_nodes``, by the node's name
NAMES = ("un", "au", "eu", "asean", "oas")


@dataclass
class Node:
    """One live node: ``issuer`` is its base URL (served at once), ``orgs`` its organisations' slugs."""

    name: str
    issuer: str
    settings: Settings
    admin_url: str
    app: Litestar
    orgs: list[str] = field(default_factory=list)
    #: the uvicorn server serving it and its thread, while it is served (``serving_all``)
    server: tuple[uvicorn.Server, threading.Thread] | None = None

    def session(self) -> Any:
        """``async with node.session() as session``: one transaction on this node's database."""
        assert self.settings.database_url
        return cli_session(self.settings.database_url)

    async def key_ring(self) -> KeyRing:
        """This node's keys as they are in its database now."""
        engine = make_engine(self.settings.database_url, pool_size=1)  # type: ignore[arg-type]
        try:
            return await load_key_ring(make_sessionmaker(engine), self.settings)
        finally:
            await engine.dispose()

    async def fingerprint(self) -> str:
        """This node's key fingerprint, as ``msnet node fingerprint`` prints it."""
        return fingerprint((await self.key_ring()).signing.as_dict(private=False))

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``msnet ARGS`` run against this node by its operator, in a process of its own."""
        return subprocess.run(
            [sys.executable, "-m", "msnet", *args],
            env=cli_env(self.settings),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    async def owner(self, query: str, *params: Any) -> list[asyncpg.Record]:
        """``query`` run as the schema owner (behind the service's back)."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            return await conn.fetch(query, *params)
        finally:
            await conn.close()


async def _prepare(node: Node) -> None:
    """A key of the node's own (the template's is shared by every clone), and its organisations."""
    await node.owner("DELETE FROM signing_keys")
    async with node.session() as session:
        for slug in node.orgs:
            await organisations.create_organisation(
                session,
                org_schemas.OrganisationCreate(
                    slug=slug, name=f"Organisation {slug.upper()}", kind="regional"
                ),
                origin=node.issuer,
            )


async def _prepare_all(nodes: list[Node]) -> None:
    await asyncio.gather(*(_prepare(node) for node in nodes))


@contextmanager
def running_nodes(
    superuser_url: str, clones: Clones, tmp: Path, count: int = 3, **settings: Any
) -> Iterator[list[Node]]:
    """``count`` live nodes (at most 5): node i is named ``NAMES[i]`` and homes the organisations
    ``NAMES[i]`` and ``NAMES[i]-2``; ``settings`` overrides every node's ``Settings``."""
    names = NAMES[:count]
    with ExitStack() as stack:
        databases = [clones.take() for _ in names]
        for database in databases:
            stack.callback(clones.give_back, database)

        def made(name: str, database: str) -> Node:
            port = free_port()
            issuer = f"http://127.0.0.1:{port}"
            node_settings = Settings(
                **{
                    "database_url": with_user_and_db(superuser_url, APP, database),
                    "database_admin_url": with_user_and_db(superuser_url, OWNER, database),
                    "data_dir": tmp / name,
                    "public_url": issuer,
                    "port": port,
                    "secret_key": new_secret_key(),
                    "worker": False,
                    **settings,
                }
            )
            node = Node(
                name=name,
                issuer=issuer,
                settings=node_settings,
                admin_url=node_settings.database_admin_url or "",
                app=create_app(node_settings),
                orgs=[name, f"{name}-2"],
            )
            return node

        nodes = [made(name, database) for name, database in zip(names, databases, strict=True)]
        asyncio.run(_prepare_all(nodes))
        with serving_all(nodes):
            yield nodes


@contextmanager
def serving_all(nodes: list[Node]) -> Iterator[None]:
    """Each node served over real HTTP by uvicorn, in a thread, as ``tests.conftest.serving`` does;
    told to stop all at once at the end, so their shutdowns wait together."""
    try:
        for node in nodes:  # started together, then waited for
            _start(node)
        for node in nodes:
            _until_started(node)
        yield
    finally:
        for node in nodes:
            if node.server is not None:
                node.server[0].should_exit = True
        for node in nodes:
            if node.server is not None:
                node.server[1].join(timeout=30)
                node.server = None


def serve(node: Node) -> None:
    """Serve ``node`` on its port, in a thread, until ``stop(node)``; returns once it answers."""
    _start(node)
    _until_started(node)


def _start(node: Node) -> None:
    port = node.settings.port
    server = uvicorn.Server(
        uvicorn.Config(node.app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    node.server = (server, thread)


def _until_started(node: Node) -> None:
    assert node.server is not None
    server, thread = node.server
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"node {node.name} did not start")
        time.sleep(0.01)


@contextmanager
def down(node: Node) -> Iterator[None]:
    """``node`` stopped for the block (its port refuses connections), then served again."""
    assert node.server is not None
    server, thread = node.server
    server.should_exit = True
    thread.join(timeout=30)
    node.server = None
    try:
        yield
    finally:
        serve(node)


@pytest.fixture(scope="module")
def nodes(
    superuser_url: str, clones: Clones, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Node]]:
    """Three live nodes (un, au, eu), not peered, shared by the module's tests."""
    with running_nodes(superuser_url, clones, tmp_path_factory.mktemp("nodes")) as made:
        yield made


async def peer(a: Node, b: Node) -> service.Peering:
    """``b`` becomes a peer of ``a``, as ``msnet peer add B --fingerprint F`` on ``a`` does it."""
    async with a.session() as session:
        return await service.add_peer(session, b.issuer, await b.fingerprint(), a.issuer)


async def peer_both(a: Node, b: Node) -> None:
    await peer(a, b)
    await peer(b, a)


async def node_document(node: Node) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(node.issuer + "/.well-known/msnet-node")
