"""What the outbox tests share: a real HTTP receiver, a worker, organisations with admin tokens."""

from __future__ import annotations

import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.db.engine import ORG_KEY
from msnet.middleware import Metrics
from msnet.outbox.worker import Worker
from msnet.settings import Settings
from tests.conftest import free_port
from tests.helpers import new_caller, org_ids


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # a worker's batch arrives at once


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook receiver on a local port (of ``host``, a loopback address), over HTTP or ``tls``,
    answering ``status``; it can go down and come back."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls  # HTTPS, with this server context
        self.port = free_port()
        self.status = 204
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hooks/msnet"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = Server((self.host, self.port), Handler)
        if self.tls:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def serving(receiver: Receiver) -> Iterator[Receiver]:
    """A fixture's body: ``receiver`` up for the test, down after it."""
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving(Receiver())


@pytest.fixture
async def worker(sessionmaker: async_sessionmaker, settings: Settings) -> AsyncIterator[Worker]:
    worker = Worker(sessionmaker, settings, Metrics())
    try:
        yield worker
    finally:
        await worker.close()


@dataclass
class Org:
    slug: str
    id: UUID
    headers: dict[str, str]


async def make_org(
    client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection, slug: str
) -> Org:
    caller = await new_caller(client, settings, slug, ["org:admin", "directory:read"])
    return Org(slug, (await org_ids(owner_conn))[slug], caller.headers)  # type: ignore[arg-type]


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection) -> Org:
    return await make_org(client, settings, owner_conn, "au")


@pytest.fixture
async def eu(client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection) -> Org:
    return await make_org(client, settings, owner_conn, "eu")


async def register(
    client: AsyncTestClient, org: Org, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": event_types or ["request.received"], "description": "case system"},
        headers=org.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


@asynccontextmanager
async def acting(sessionmaker: async_sessionmaker, org_id: UUID) -> AsyncIterator[AsyncSession]:
    """A transaction acting for one organisation, as a request's does; committed unless it raises."""
    async with sessionmaker() as session:
        session.info[ORG_KEY] = org_id
        async with session.begin():
            yield session


async def messages(owner_conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every outbox message, oldest first (the owner role sees every organisation's)."""
    return await owner_conn.fetch("SELECT * FROM outbox_messages ORDER BY created_at, id")


async def make_due(owner_conn: asyncpg.Connection) -> None:
    """Time passes: every pending message is due now."""
    await owner_conn.execute(
        "UPDATE outbox_messages SET next_attempt_at = now() WHERE delivered_at IS NULL AND failed_at IS NULL"
    )
