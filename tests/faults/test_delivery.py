"""Faults on the way out, with ``msnet worker`` as a process of its own: a webhook receiver or an SMTP
server down for a while and back, and a worker killed in the middle of a delivery. Each message is
retried after the backoff and delivered exactly once once the other side is back (a killed worker's
message at least once: the receiver sees the same ``webhook-id`` again and can deduplicate).
Time moves by making messages due, as in tests/outbox, never by sleeping."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from standardwebhooks.webhooks import Webhook

from msnet.outbox import service
from msnet.settings import Settings
from tests.conftest import free_port
from tests.faults.processes import Process, until
from tests.outbox.conftest import Org, Received, Receiver, acting, make_due, make_org, messages, register

WORKER_ENV = {"MSNET_WORKER_POLL_INTERVAL": "1"}


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection) -> Org:
    return await make_org(client, settings, owner_conn, "au")


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """The msnet processes a test starts, killed at its end if still running."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.close()


async def the_message(owner_conn: asyncpg.Connection) -> asyncpg.Record:
    (row,) = await messages(owner_conn)
    return row


async def every_message(
    owner_conn: asyncpg.Connection, worker: Process, check: Callable[[asyncpg.Record], bool], what: str
) -> list[asyncpg.Record]:
    """Wait until ``check`` holds for every outbox message; them, by kind."""

    async def holds() -> bool:
        return all(check(r) for r in await messages(owner_conn))

    await until(holds, 30, lambda: f"{what}:\n{worker.output()}")
    return await messages(owner_conn)


def failed_once(row: asyncpg.Record) -> bool:
    """The first attempt was made and its failure recorded (a claim counts the next attempt before
    the worker settles it, so the attempt count alone does not say it)."""
    return row["attempts"] == 1 and row["last_error"] is not None


def delivered(row: asyncpg.Record) -> bool:
    return row["delivered_at"] is not None


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@dataclass
class Smtp:
    """A real SMTP server on a port of its own, that can go down and come back."""

    port: int = field(default_factory=free_port)
    mailbox: Mailbox = field(default_factory=Mailbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for envelope in self.mailbox.messages
            for line in envelope.content.decode().splitlines()
            if line.lower().startswith("message-id:")
        ]


async def test_receivers_down_for_a_while_get_their_messages_once_they_are_back(
    client: AsyncTestClient,
    settings: Settings,
    au: Org,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    """A webhook whose receiver is down and an e-mail whose SMTP server is down: the worker's attempt
    fails, the message waits for the backoff, and once the other side is back it is delivered, once."""
    receiver, smtp = Receiver(), Smtp()
    await register(client, au, receiver.url)
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="request.received", data={})
        await service.enqueue_email(session, organisation_id=au.id, to="a@au.int", subject="s", text="t")
    worker = Process(
        settings,
        "worker",
        tmp_path / "logs",
        **WORKER_ENV,
        MSNET_SMTP_HOST="127.0.0.1",
        MSNET_SMTP_PORT=str(smtp.port),
        MSNET_SMTP_TLS="none",
        MSNET_MAIL_FROM="msnet@mediation.example.org",
    )
    processes.append(worker)
    worker.start()
    try:
        rows = await every_message(
            owner_conn, worker, failed_once, "the worker did not record failed attempts"
        )
        assert sorted(r["kind"] for r in rows) == ["email", "webhook"]
        for row in rows:
            assert row["delivered_at"] is None
            assert row["failed_at"] is None
            assert await owner_conn.fetchval(
                "SELECT $1::timestamptz > now()", row["next_attempt_at"]
            )  # backoff
        receiver.start()
        smtp.start()
        await make_due(owner_conn)  # the backoff has passed
        rows = await every_message(owner_conn, worker, delivered, "the worker did not deliver the messages")
    finally:
        receiver.stop()
        smtp.stop()
    assert [(r["attempts"], r["last_error"]) for r in rows] == [(2, None), (2, None)]
    by_kind = {r["kind"]: str(r["id"]) for r in rows}
    assert [r.headers["webhook-id"] for r in receiver.received] == [by_kind["webhook"]]
    assert smtp.message_ids() == [f"<{by_kind['email']}@mediation.example.org>"]
    assert worker.stop() == 0


class Holding(Receiver):
    """A receiver that keeps each request open, unanswered, until ``release`` is set, then answers
    204; ``arrived`` is set once a request has come in."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                receiver.release.wait(60)
                with contextlib.suppress(OSError):  # the worker that asked may be gone
                    self.send_response(204)
                    self.send_header("content-length", "0")
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


async def test_a_worker_killed_mid_delivery_leaves_it_to_another_under_the_same_id(
    client: AsyncTestClient,
    settings: Settings,
    au: Org,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    """SIGKILL while the receiver holds the request open: the message stays leased to nobody (the
    lease runs out), a worker started afterwards delivers it under the same webhook-id, the outbox
    records it delivered once, and the receiver, having seen that id twice, can tell."""
    receiver = Holding()
    endpoint = await register(client, au, receiver.url)
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="request.received", data={})
    receiver.start()
    try:
        first = Process(settings, "worker", tmp_path / "logs", **WORKER_ENV)
        processes.append(first)
        first.start()

        async def arrived() -> bool:
            return receiver.arrived.is_set()

        await until(arrived, 30, "the webhook did not arrive")
        assert first.kill() == -9
        row = await the_message(owner_conn)
        assert row["attempts"] == 1
        assert row["delivered_at"] is None
        assert row["last_error"] is None  # never settled: the worker died first
        assert await owner_conn.fetchval("SELECT $1::timestamptz > now()", row["next_attempt_at"])  # leased
        receiver.release.set()  # answers at once from now on

        await make_due(owner_conn)  # the dead worker's lease runs out
        second = Process(settings, "worker", tmp_path / "logs", **WORKER_ENV)
        processes.append(second)
        second.start()
        await every_message(owner_conn, second, delivered, "the second worker did not deliver it")
        assert second.stop() == 0
    finally:
        receiver.release.set()
        receiver.stop()
    row = await the_message(owner_conn)
    assert row["attempts"] == 2
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(row["id"])] * 2
    for received in receiver.received:
        Webhook(endpoint["secret"]).verify(received.body, received.headers)
