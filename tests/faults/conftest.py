"""Faults of the database, on a server of the module's own that the tests stop, pause and restart
(the run's shared server must not be touched), under a live msnet over real HTTP."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from msnet.app import create_app
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls, bootstrap, embedded_postgres
from msnet.settings import Settings
from tests.conftest import APP, OWNER, TEST_SECRET_KEY, free_port, server_root, serving

#: Timeouts short enough to see within a test, in seconds.
TIMEOUTS = {
    "db_connect_timeout": 2,
    "db_pool_timeout": 1,
    "db_statement_timeout": 2,
    "db_lock_timeout": 1,
    "db_idle_in_transaction_timeout": 10,
    "request_timeout": 4,
}


@dataclass
class Database:
    """A PostgreSQL server of one's own, and what stops, pauses and restarts it."""

    server: object
    urls: DatabaseUrls

    def _processes(self) -> list[psutil.Process]:
        postmaster = psutil.Process(self.server.get_pid())  # type: ignore[attr-defined]
        return [postmaster, *postmaster.children(recursive=True)]

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart or a failover does: connections are dropped."""
        postmaster = psutil.Process(self.server.get_pid())  # type: ignore[attr-defined]
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(timeout=30)

    def start(self) -> None:
        self.server.ensure_postgres_running()  # type: ignore[attr-defined]

    def pause(self) -> list[psutil.Process]:
        """Every process of the server stopped where it is: it accepts connections and answers
        nothing, as a frozen virtual machine or a network partition would."""
        processes = self._processes()
        for p in processes:
            p.send_signal(signal.SIGSTOP)
        return processes

    @staticmethod
    def resume(processes: list[psutil.Process]) -> None:
        for p in processes:
            p.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    root = server_root("msnet-faults-pg-")
    server = embedded_postgres().get_server(root / "pgdata", cleanup_mode="delete")
    try:
        urls = asyncio.run(bootstrap(server.get_uri(), "msnet_faults", OWNER, APP))
        migrate.upgrade(urls.admin, urls.app)
        yield Database(server, urls)
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Node:
    base: str
    settings: Settings


def module_settings(database: Database, data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a node on the module's server, on a port of its own, with the short ``TIMEOUTS``
    unless ``overrides`` say otherwise."""
    port = free_port()
    return Settings(
        **{
            "database_url": database.urls.app,
            "database_admin_url": database.urls.admin,
            "data_dir": data_dir,
            "public_url": f"http://127.0.0.1:{port}",
            "port": port,
            "secret_key": TEST_SECRET_KEY,
            "worker": False,
            "db_pool_size": 2,
            **TIMEOUTS,
            **overrides,
        }
    )


@pytest.fixture
def node(database: Database, tmp_path: Path) -> Iterator[Node]:
    """msnet over real HTTP on the module's server, with the short ``TIMEOUTS``."""
    database.start()
    settings = module_settings(database, tmp_path)
    try:
        with serving(create_app(settings), settings.port):
            yield Node(settings.public_url, settings)  # type: ignore[arg-type]
    finally:
        database.start()
