"""Tests run against a real PostgreSQL whose schema is built by running the migrations.

The embedded server by default; MSNET_TEST_DATABASE_URL (a superuser URL, e.g.
postgresql://postgres@127.0.0.1:5432/postgres) points them at an existing server. Each test gets a
database of its own, cloned from a template that the migrations built once per run (with the node's
signing key made once, as the first start of a node makes it); a thread clones the next tests'
databases while a test runs and drops those of finished tests.

The run keeps its temporary files (pytest's base temporary directory, the embedded servers' data) in
directories of its own under the system's temporary directory, removed at its end: another pytest
run on the machine prunes old directories of pytest's shared base directory, servers' included.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from xdist.scheduler import LoadGroupScheduling

from msnet import demo, logs
from msnet.app import create_app
from msnet.auth.keys import create_signing_key, new_secret_key
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls, bootstrap, embedded_postgres, with_user_and_db
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.db.runtime import cli_session
from msnet.middleware import Metrics
from msnet.settings import Settings
from tests.documented import check_response
from tests.helpers import MakeCaller, new_caller

OWNER = "msnet_test_owner"
APP = "msnet_test_app"
TEST_ISSUER = "http://127.0.0.1"
TEST_SECRET_KEY = new_secret_key()
T = TypeVar("T")
CLONES_AHEAD = 3  # databases cloned ahead of the tests that take them, by one worker

logs.configure("warning", "json")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The marker that turns the OpenAPI check off; and unless told a base temporary directory, the
    run (and its xdist workers, below it) takes one of its own (in ``fast_temp_dir``), removed at its
    end."""
    config.addinivalue_line(
        "markers", "undocumented(reason): this test's responses are not checked against the OpenAPI document"
    )
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="msnet-tests-", dir=fast_temp_dir())
        config.add_cleanup(partial(shutil.rmtree, config.option.basetemp, ignore_errors=True))


#: Tests that take longest (processes, servers, browsers) are dealt first, so that the workers finish
#: together rather than one waiting on a long test dealt last.
RUN_FIRST = (
    "tests/federation/test_demo_nodes.py",
    "tests/faults/",
    "tests/test_embedded.py",
    "tests/test_contract.py",
    "tests/web/",
    "tests/federation/",
    "tests/docs/",
    "tests/replica/",
    "tests/deploy/",
    "tests/ops/test_serve_processes.py",
    "tests/test_cli_identity.py",
)
#: Modules whose tests share a server of their own (a module-scoped fixture) run on one worker each,
#: which starts that server once: each is a group of its own (its path) that ``GroupScheduling`` deals
#: to one worker whole.
ONE_WORKER = (
    "tests/faults/",
    "tests/replica/",
    "tests/deploy/test_kubernetes.py",
    "tests/web/",
    "tests/federation/",
)


#: Modules that run on one worker together, as one group: they share a session-scoped fixture (one
#: a worker), made once so (the sign-in modules' ``signin_node``).
SHARED = {
    "tests/web/test_signin.py": "tests/web/ sign-in",
    "tests/web/test_security.py": "tests/web/ sign-in",
    "tests/web/test_i18n.py": "tests/web/ sign-in",
}


def group_of(nodeid: str) -> str | None:
    """The group of the test ``nodeid`` (for the ONE_WORKER modules, its module's path or its name in
    SHARED); ``None``: it may run on any worker."""
    if nodeid.startswith(ONE_WORKER):
        module = nodeid.split("::", 1)[0]
        return SHARED.get(module, module)
    return None


class GroupScheduling(LoadGroupScheduling):
    """``--dist loadgroup`` with the groups decided here, from the tests' paths (``group_of``), and the
    work dealt in the collection's order (RUN_FIRST), not by the groups' sizes.

    xdist's own loadgroup reads a group from an ``@group`` suffix that each worker adds to the node
    ids of the tests marked ``xdist_group``; pytest 9.2 no longer reads the attribute xdist 3.8
    writes it to, so every test became a group of its own and a module's tests were spread over
    every worker, each making the module's fixtures (its live nodes) again. A suffix, where one is
    still added, is honoured after ``group_of``."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid) or super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    if config.getvalue("dist") != "loadgroup":
        return None
    config.option.loadscopereorder = False  # RUN_FIRST's order, longest first, rather than the largest group
    return GroupScheduling(config, log)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores. A worker spends much of its time waiting on
    PostgreSQL, subprocesses and sockets: with one a core, a run kept 2 cores 59 % busy (4:48);
    with three workers on 2 cores it took 4:34."""
    return (os.cpu_count() or 1) + 1


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(
        key=lambda item: next(
            (n for n, p in enumerate(RUN_FIRST) if item.nodeid.startswith(p)), len(RUN_FIRST)
        )
    )


# Settings that trade durability for speed on a server that lives as long as the run.
EPHEMERAL = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
#: A memory file system for the run's temporary files, used when it has this much room.
SHM, SHM_ROOM = Path("/dev/shm"), 2 << 30  # noqa: S108 (directories made in it by mkdtemp)


def fast_temp_dir() -> Path | None:
    """SHM when it has room, else ``None`` (the system's temporary directory). Creating a file on
    the disk's ext4 costs the kernel 0.5-0.9 ms of CPU on the 2-core machine, 0.01 ms on tmpfs: a
    clone of the template creates some 570 files, and cost the server 410-530 ms of CPU there
    against 10-30 ms on tmpfs (10 clones each, ``STRATEGY FILE_COPY``, PostgreSQL 18), most of the
    servers' CPU in a run; an embedded server that a test's ``msnet serve`` makes in its ``tmp_path``
    took 6 s (0.8-1.1 s of CPU) to make, start and stop there against 0.9 s (0.4 s). What lives there
    is removed at the end of its test (``tmp_path_retention_policy``), module or run."""
    try:
        room = os.statvfs(SHM)
    except OSError:
        return None
    return SHM if room.f_bavail * room.f_frsize >= SHM_ROOM and os.access(SHM, os.W_OK) else None


def server_root(prefix: str) -> Path:
    """A new directory for a test server's data (in ``fast_temp_dir``)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=fast_temp_dir()))


@pytest.fixture(scope="session")
def superuser_url() -> Iterator[str]:
    if url := os.environ.get("MSNET_TEST_DATABASE_URL"):
        yield url
        return
    root = server_root("msnet-tests-pg-")
    try:
        server = embedded_postgres().get_server(root / "pgdata", cleanup_mode="delete")
        try:
            url = server.get_uri()
            asyncio.run(
                _admin(
                    url,
                    *(f"ALTER SYSTEM SET {k} = {v}" for k, v in EPHEMERAL.items()),
                    "SELECT pg_reload_conf()",
                )
            )
            yield url
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _add_signing_key(url: str) -> None:
    async with cli_session(url) as session:
        await create_signing_key(session, TEST_SECRET_KEY)


@pytest.fixture(scope="session")
def template(superuser_url: str) -> Iterator[str]:
    """A database migrated to head, with a signing key, to clone for each test."""
    name = f"msnet_tpl_{uuid.uuid4().hex[:10]}"
    urls = asyncio.run(bootstrap(superuser_url, name, OWNER, APP))
    migrate.upgrade(urls.admin, urls.app)
    asyncio.run(_add_signing_key(urls.app))
    try:
        yield name
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _clone_strategy(url: str) -> str:
    """How the server clones a database most cheaply. ``FILE_COPY`` copies the template's files and
    takes a checkpoint before and after, which without fsync (the embedded server: ``EPHEMERAL``) only
    hands pages to the OS: a clone costs the server some 55-85 ms of CPU, against 120-330 ms for
    ``WAL_LOG``, which writes every page of the template's 10 MB to the WAL (PostgreSQL 18, 20 clones
    each, alternated). With fsync, those checkpoints wait on the disk (2.9 s a clone against 0.4 s on
    the PostgreSQL 15 of CI): ``WAL_LOG`` there."""
    conn = await asyncpg.connect(url)
    try:
        return "FILE_COPY" if await conn.fetchval("SHOW fsync") == "off" else "WAL_LOG"
    finally:
        await conn.close()


class Clones:
    """Databases cloned from ``template``, ``ahead`` of the tests that take them, and dropped once
    given back, by an event loop in a thread of its own: a test waits for neither."""

    def __init__(self, superuser_url: str, template: str, ahead: int) -> None:
        self.superuser_url = superuser_url
        self.template = template
        self.ahead = ahead
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="msnet-clones", daemon=True)
        self._thread.start()
        self.strategy = self._submit(_clone_strategy(superuser_url)).result()
        self._cloning: deque[Future[str]] = deque(self._submit(self._clone()) for _ in range(ahead))
        self._dropping: list[Future[None]] = []

    def _submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    async def _clone(self) -> str:
        name = f"msnet_t_{uuid.uuid4().hex[:12]}"
        await _admin(
            self.superuser_url,
            f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" OWNER "{OWNER}" STRATEGY {self.strategy}',
        )
        return name

    def take(self) -> str:
        """A database of the template's that no one else has had."""
        self._cloning.append(self._submit(self._clone()))
        return self._cloning.popleft().result()

    def give_back(self, name: str) -> None:
        self._dropping.append(
            self._submit(_admin(self.superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        )

    def close(self) -> None:
        """Drop every database cloned, then stop the thread."""
        for cloning in self._cloning:
            self.give_back(cloning.result())
        for dropping in self._dropping:
            dropping.result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@pytest.fixture(scope="session")
def clones(superuser_url: str, template: str) -> Iterator[Clones]:
    pool = Clones(superuser_url, template, CLONES_AHEAD)
    try:
        yield pool
    finally:
        pool.close()


@dataclass(frozen=True)
class DemoTemplate:
    """A database with the demo network loaded, and what loading it printed."""

    name: str
    printed: str


@pytest.fixture(scope="session")
def demo_template(superuser_url: str, template: str) -> Iterator[DemoTemplate]:
    """The demo network loaded once a run (once a worker), for the tests that use it to clone:
    loading it is seconds of work each of them would otherwise repeat."""
    name = f"msnet_demo_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(superuser_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{OWNER}"'))
    try:
        printed = asyncio.run(
            demo.load(
                Settings(
                    database_url=with_user_and_db(superuser_url, APP, name),
                    public_url=TEST_ISSUER,
                    secret_key=TEST_SECRET_KEY,
                )
            )
        )
        yield DemoTemplate(name, printed)
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_urls(superuser_url: str, clones: Clones, request: pytest.FixtureRequest) -> Iterator[DatabaseUrls]:
    if "demo_template" in request.fixturenames:  # the test works on the loaded demo: clone it
        demo_name: str = request.getfixturevalue("demo_template").name
        name = f"msnet_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(
            _admin(
                superuser_url,
                f'CREATE DATABASE "{name}" TEMPLATE "{demo_name}" OWNER "{OWNER}" STRATEGY {clones.strategy}',
            )
        )
    else:
        name = clones.take()
    try:
        yield DatabaseUrls(
            app=with_user_and_db(superuser_url, APP, name), admin=with_user_and_db(superuser_url, OWNER, name)
        )
    finally:
        clones.give_back(name)


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
        # no tarpit: the hostile-input and conformance tests send hundreds of failing credentials from
        # one address and would wait out every hold; tests/auth/test_flood.py turns it on
        auth_refusal_delay=0,
    )


#: Apps already made in this worker, by their settings but for the database and data directory:
#: making one costs about 0.3 s of CPU (Litestar copies and inspects every handler), more than most tests.
_APPS: dict[tuple[Any, ...], Litestar] = {}
_PER_TEST = ("database_url", "database_admin_url", "data_dir")


def app_for(settings: Settings) -> Litestar:
    """The app for ``settings``: one made before for the same settings, pointed at this test's
    database (its lifespan reads the settings when it starts) with metrics of its own, or a new one."""
    key = tuple(v for k, v in sorted(vars(settings).items()) if k not in _PER_TEST)
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(settings)
    else:
        app.state.settings = settings
        # the request context's (inside the refusal gate: msnet.app)
        app.state.metrics = app.asgi_handler.app.metrics = Metrics()  # type: ignore[attr-defined]
    return app


@pytest.fixture
def app(settings: Settings) -> Litestar:
    """``app_for(settings)``: the test's client starts it on the test's database."""
    return app_for(settings)


@pytest.fixture
async def client(app: Litestar, request: pytest.FixtureRequest) -> AsyncIterator[AsyncTestClient]:
    """The app in process; every response it gives is checked against the OpenAPI document."""
    async with AsyncTestClient(app, base_url=TEST_ISSUER) as test_client:
        if request.node.get_closest_marker("undocumented") is None:
            test_client.event_hooks = {"request": [], "response": [check_response]}
        yield test_client


@pytest.fixture
def make_caller(client: AsyncTestClient, settings: Settings, sessionmaker: async_sessionmaker) -> MakeCaller:
    """``await make_caller(slug, scopes)``: a new client of organisation ``slug`` (made if missing)
    holding ``scopes``, with an access token from the real token endpoint. The test's callers are
    made from the test's ``sessionmaker``, not on an engine each."""
    return partial(new_caller, client, settings, sessions=sessionmaker)


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker]:
    """Sessions on the test's database as the service role, for what runs outside a request (the
    outbox worker, digests, jobs), from a small pool of their own."""
    engine = make_engine(settings.database_url, pool_size=5)  # type: ignore[arg-type]
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


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


def listening() -> socket.socket:
    """A socket listening on a free loopback port: bound at once, so that no other process can take
    the port between the moment it is chosen and the moment a server listens on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def serving(app: Litestar, port: int, sock: socket.socket | None = None) -> Iterator[None]:
    """``app`` served over real HTTP by uvicorn on 127.0.0.1:``port``, in a thread, for the block;
    on ``sock`` (listening on that port, and left open at the end) when given."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    # uvicorn closes the sockets it serves on when it stops: a duplicate of ``sock``'s
    thread = threading.Thread(target=server.run, args=(None if sock is None else [sock.dup()],), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def live_socket() -> Iterator[socket.socket]:
    """The port of this worker's ``live_server``, listening for the run: every test's server has the
    same URL, so the app made for the first test's settings serves the next ones too."""
    with listening() as sock:
        yield sock


@pytest.fixture
def live_server(settings: Settings, live_socket: socket.socket) -> Iterator[str]:
    """The app served over real HTTP by uvicorn, in a thread, with this node's issuer as its own URL
    (the same URL, a port of the worker's, for every test of a worker; one app for their settings,
    pointed at each test's database as ``app`` is)."""
    port = live_socket.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with serving(
        app_for(Settings(**{**settings.__dict__, "public_url": base, "port": port})), port, live_socket
    ):
        yield base
