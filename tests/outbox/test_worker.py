"""The delivery worker against real receivers: signatures checked with the Standard Webhooks
reference library, a receiver that is down and comes back, one that answers 500, two workers at
once, e-mail through a real SMTP server. Time moves by making messages due, never by sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from msnet.app import create_app
from msnet.middleware import Metrics
from msnet.outbox import service
from msnet.outbox.worker import RETRY_SCHEDULE, Worker, _pinned, prune, retry_delay, sign
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER, free_port
from tests.outbox.conftest import Org, Receiver, acting, make_due, make_org, messages, register, serving


async def _emit(
    sessionmaker: async_sessionmaker, org: Org, n: int = 1, event: str = "request.received"
) -> None:
    async with acting(sessionmaker, org.id) as session:
        for i in range(n):
            await service.emit(session, organisation_id=org.id, event_type=event, data={"n": i})


def _metric(worker: Worker, kind: str, outcome: str) -> float:
    value = worker.metrics.registry.get_sample_value(
        "msnet_outbox_deliveries_total", {"kind": kind, "outcome": outcome}
    )
    return value or 0.0


async def test_a_webhook_is_delivered_signed_as_standard_webhooks_specifies(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    worker: Worker,
    owner_conn: asyncpg.Connection,
) -> None:
    endpoint = await register(client, au, receiver.url)
    await _emit(sessionmaker, au)

    assert await worker.run_once() == 1

    (received,) = receiver.received
    (row,) = await messages(owner_conn)
    assert received.headers["webhook-id"] == str(row["id"])
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-signature"].startswith("v1,")
    # the reference implementation accepts it with the secret the API showed once
    payload = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "request.received"
    assert payload["data"] == {"n": 0}
    with pytest.raises(WebhookVerificationError):
        Webhook(service.new_secret()).verify(received.body, received.headers)
    assert row["delivered_at"] is not None
    assert row["attempts"] == 1
    assert row["last_error"] is None
    assert _metric(worker, "webhook", "delivered") == 1
    # nothing is due any more
    assert await worker.run_once() == 0
    assert len(receiver.received) == 1


def test_signature_matches_the_reference_implementation() -> None:
    secret = service.new_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"overlap.detected","timestamp":"2027-01-01T00:00:00Z","data":{}}'
    reference = Webhook(secret).sign("msg_1", datetime.fromtimestamp(1798761600, UTC), body.decode())
    assert sign(secret, "msg_1", "1798761600", body) == reference


def test_the_retry_schedule_spans_more_than_a_day() -> None:
    assert sum(RETRY_SCHEDULE, timedelta()) >= timedelta(hours=24)
    assert retry_delay(1) == timedelta(seconds=5)
    assert retry_delay(len(RETRY_SCHEDULE)) == RETRY_SCHEDULE[-1]
    assert retry_delay(len(RETRY_SCHEDULE) + 1) is None


async def test_a_receiver_that_is_down_and_comes_back_gets_the_message_under_the_same_id(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    worker: Worker,
    owner_conn: asyncpg.Connection,
) -> None:
    endpoint = await register(client, au, receiver.url)
    await _emit(sessionmaker, au)
    receiver.stop()

    assert await worker.run_once() == 1
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is None
    assert row["failed_at"] is None
    assert row["attempts"] == 1
    assert row["last_error"] == "ConnectError"
    assert await owner_conn.fetchval("SELECT $1::timestamptz > now()", row["next_attempt_at"])
    assert _metric(worker, "webhook", "retry") == 1
    # not due yet: nothing to do
    assert await worker.run_once() == 0

    receiver.start()
    await make_due(owner_conn)
    assert await worker.run_once() == 1

    (received,) = receiver.received
    assert received.headers["webhook-id"] == str(row["id"])
    Webhook(endpoint["secret"]).verify(received.body, received.headers)
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None
    assert row["attempts"] == 2
    assert row["last_error"] is None


async def test_a_receiver_answering_500_is_retried_with_backoff_then_failed(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    worker: Worker,
    owner_conn: asyncpg.Connection,
) -> None:
    await register(client, au, receiver.url)
    await _emit(sessionmaker, au)
    receiver.status = 500

    delays = []
    for _ in range(len(RETRY_SCHEDULE)):
        assert await worker.run_once() == 1
        (row,) = await messages(owner_conn)
        assert row["last_error"] == "HTTP 500"
        assert row["failed_at"] is None
        delays.append(await owner_conn.fetchval("SELECT $1::timestamptz - now()", row["next_attempt_at"]))
        await make_due(owner_conn)
    # each wait is the schedule's (less the moments the test itself took), and they grow
    for delay, planned in zip(delays, RETRY_SCHEDULE, strict=True):
        assert planned - timedelta(seconds=5) < delay <= planned
    assert await worker.run_once() == 1  # the last attempt

    (row,) = await messages(owner_conn)
    assert row["failed_at"] is not None
    assert row["delivered_at"] is None
    assert row["attempts"] == len(RETRY_SCHEDULE) + 1
    assert len(receiver.received) == len(RETRY_SCHEDULE) + 1
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert _metric(worker, "webhook", "failed") == 1
    await make_due(owner_conn)
    assert await worker.run_once() == 0


async def test_two_workers_at_once_deliver_each_message_once(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    settings: Settings,
    owner_conn: asyncpg.Connection,
) -> None:
    await register(client, au, receiver.url)
    await _emit(sessionmaker, au, n=60)
    workers = [Worker(sessionmaker, settings, Metrics()) for _ in range(2)]

    async def drain(worker: Worker) -> int:
        total = 0
        while claimed := await worker.run_once():
            total += claimed
        return total

    try:
        counts = await asyncio.gather(*(drain(w) for w in workers))
    finally:
        for w in workers:
            await w.close()

    assert sum(counts) == 60
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 60
    assert len(set(ids)) == 60
    rows = await messages(owner_conn)
    assert {str(r["id"]) for r in rows} == set(ids)
    assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in rows)


async def test_a_lost_lease_is_not_settled_twice(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    """A worker too slow for its lease: another took the message over, and the first one's outcome
    no longer counts."""
    await register(client, au, receiver.url)
    await _emit(sessionmaker, au)
    async with sessionmaker() as session, session.begin():
        (slow,) = await service.claim(session, kinds=["webhook"], limit=10, lease=timedelta(minutes=5))
    await make_due(owner_conn)  # the lease runs out
    async with sessionmaker() as session, session.begin():
        (fast,) = await service.claim(session, kinds=["webhook"], limit=10, lease=timedelta(minutes=5))
    assert fast.id == slow.id
    assert fast.attempts == slow.attempts + 1
    async with acting(sessionmaker, au.id) as session:
        assert await service.settle(session, fast, error=None, retry_in=None)
        assert not await service.settle(session, slow, error="HTTP 500", retry_in=timedelta(seconds=5))
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None


async def test_deleting_an_endpoint_drops_its_undelivered_messages(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    worker: Worker,
    owner_conn: asyncpg.Connection,
) -> None:
    endpoint = await register(client, au, receiver.url)
    await _emit(sessionmaker, au, n=3)
    response = await client.delete(f"/v1/webhooks/{endpoint['id']}", headers=au.headers)
    assert response.status_code == 204
    assert await messages(owner_conn) == []
    assert await worker.run_once() == 0
    assert receiver.received == []


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@contextlib.contextmanager
def _smtp_server(mailbox: Mailbox) -> Iterator[Controller]:
    """A real SMTP server on 127.0.0.1 that hands what it gets to ``mailbox``."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def _mailing(settings: Settings, port: int, mail_from: str = "msnet@example.org") -> Settings:
    return replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", mail_from=mail_from)


@pytest.fixture
def smtp() -> Any:
    mailbox = Mailbox()
    with _smtp_server(mailbox) as controller:
        yield controller, mailbox


async def test_an_email_goes_through_a_real_smtp_server_with_both_parts(
    client: AsyncTestClient,
    au: Org,
    sessionmaker: async_sessionmaker,
    settings: Settings,
    owner_conn: asyncpg.Connection,
    smtp: Any,
) -> None:
    controller, mailbox = smtp
    mailing = _mailing(settings, controller.port, mail_from="msnet@mediation.example.org")
    async with acting(sessionmaker, au.id) as session:
        message_id = await service.enqueue_email(
            session,
            organisation_id=au.id,
            to="focal.point@au.int",
            subject="Weekly digest: 2 new trainings",
            text="Two trainings were shared this week.",
            html="<p>Two trainings were shared <b>this week</b>.</p>",
            headers={"List-Id": "<digest.msnet.example>"},
        )

    # a worker without an SMTP server leaves e-mails where they are
    plain = Worker(sessionmaker, settings, Metrics())
    try:
        assert await plain.run_once() == 0
    finally:
        await plain.close()

    worker = Worker(sessionmaker, mailing, Metrics())
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.close()

    (envelope,) = mailbox.messages
    assert envelope.mail_from == "msnet@mediation.example.org"
    assert envelope.rcpt_tos == ["focal.point@au.int"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "Weekly digest: 2 new trainings"
    assert mail["To"] == "focal.point@au.int"
    assert mail["List-Id"] == "<digest.msnet.example>"
    assert mail["Message-ID"] == f"<{message_id}@mediation.example.org>"
    assert mail.get_body(("plain",)).get_content().strip() == "Two trainings were shared this week."
    assert (
        mail.get_body(("html",)).get_content().strip() == "<p>Two trainings were shared <b>this week</b>.</p>"
    )
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None


async def test_an_unreachable_smtp_server_is_retried(
    client: AsyncTestClient,
    au: Org,
    sessionmaker: async_sessionmaker,
    settings: Settings,
    owner_conn: asyncpg.Connection,
) -> None:
    down = _mailing(settings, free_port())
    async with acting(sessionmaker, au.id) as session:
        await service.enqueue_email(session, organisation_id=au.id, to="a@au.int", subject="s", text="t")
    worker = Worker(sessionmaker, down, Metrics())
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.close()
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is None
    assert row["attempts"] == 1
    assert row["last_error"].startswith("SMTP")
    assert _metric(worker, "email", "retry") == 1


class Refusing(Mailbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 No such mailbox"


async def test_an_address_the_smtp_server_refuses_for_good_is_not_retried(
    client: AsyncTestClient,
    au: Org,
    sessionmaker: async_sessionmaker,
    settings: Settings,
    owner_conn: asyncpg.Connection,
) -> None:
    refusing = Refusing()
    async with acting(sessionmaker, au.id) as session:
        await service.enqueue_email(session, organisation_id=au.id, to="gone@au.int", subject="s", text="t")
    with _smtp_server(refusing) as controller:
        worker = Worker(sessionmaker, _mailing(settings, controller.port), Metrics())
        try:
            assert await worker.run_once() == 1
        finally:
            await worker.close()
    assert refusing.messages == []
    (row,) = await messages(owner_conn)
    assert row["failed_at"] is not None
    assert row["delivered_at"] is None
    assert row["attempts"] == 1
    assert row["last_error"] == "SMTPRecipientsRefused 550"
    assert _metric(worker, "email", "failed") == 1


async def test_the_worker_runs_inside_the_app_by_default(
    settings: Settings,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    serving = replace(settings, worker=True, worker_poll_interval=1)
    delivered = 'msnet_outbox_deliveries_total{kind="webhook",outcome="delivered"} 1.0'
    async with AsyncTestClient(create_app(serving), base_url=TEST_ISSUER) as client:
        au = await make_org(client, serving, owner_conn, "au")
        await register(client, au, receiver.url)
        await _emit(sessionmaker, au)
        for _ in range(400):  # until the app's own worker has delivered it, polling every second
            if delivered in (await client.get("/metrics")).text:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the app's worker did not deliver the message")
    assert len(receiver.received) == 1
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None
    assert json.loads(row["payload"])["type"] == "request.received"


async def test_an_endpoint_on_a_private_address_gets_nothing_from_a_public_only_worker(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    settings: Settings,
    owner_conn: asyncpg.Connection,
) -> None:
    await register(client, au, receiver.url)  # registered where private addresses are allowed
    await _emit(sessionmaker, au)
    public_only = Worker(sessionmaker, replace(settings, webhook_private_addresses=False), Metrics())
    try:
        assert await public_only.run_once() == 1
    finally:
        await public_only.close()

    assert receiver.received == []
    (row,) = await messages(owner_conn)
    assert row["last_error"] == "the endpoint's host resolves to a loopback, private or reserved address"
    assert row["delivered_at"] is None
    assert row["failed_at"] is None  # retried: the endpoint's name may point elsewhere later


#: A name for a partner's endpoint, and loopback addresses that stand in for its public ones.
PARTNER_HOST = "hooks.partner.example"
STAND_INS = ("127.0.0.2", "127.0.0.3")


@dataclass
class PartnerDns:
    answers: list[list[str]]  # the addresses of each answer in turn (the last one stays)
    looked_up: int = 0


@pytest.fixture
async def partner_dns(monkeypatch: pytest.MonkeyPatch) -> PartnerDns:
    """The network's edge, for a public-only worker: ``PARTNER_HOST`` resolves as ``answers`` say,
    and the stand-ins count as public addresses."""
    dns = PartnerDns(answers=[])
    loop = asyncio.get_running_loop()
    resolve = loop.getaddrinfo

    async def partner_resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != PARTNER_HOST:
            return await resolve(host, port, *args, **kwargs)
        answer = dns.answers[min(dns.looked_up, len(dns.answers) - 1)]
        dns.looked_up += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port)) for a in answer]

    is_public = service.is_public
    monkeypatch.setattr(loop, "getaddrinfo", partner_resolver)
    monkeypatch.setattr(service, "is_public", lambda address: address in STAND_INS or is_public(address))
    return dns


@pytest.fixture
def partner() -> Iterator[Receiver]:
    yield from serving(Receiver(host="127.0.0.2"))


@pytest.fixture
def tls_partner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The partner over HTTPS, with a certificate for ``PARTNER_HOST`` only, which the workers
    made from now on trust (SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PARTNER_HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PARTNER_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "partner.pem", tmp_path / "partner.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    yield from serving(Receiver(host="127.0.0.2", tls=tls))


@pytest.fixture
def send_to_partner(
    client: AsyncTestClient, au: Org, sessionmaker: async_sessionmaker, settings: Settings
) -> Callable[[Receiver], Awaitable[None]]:
    """Register the endpoint of a partner's ``receiver`` by name for au, emit a message, and have a
    public-only worker attempt it."""

    async def send(receiver: Receiver) -> None:
        scheme = "https" if receiver.tls else "http"
        await register(client, au, f"{scheme}://{PARTNER_HOST}:{receiver.port}/hooks/msnet")
        await _emit(sessionmaker, au)
        public_only = Worker(sessionmaker, replace(settings, webhook_private_addresses=False), Metrics())
        try:
            assert await public_only.run_once() == 1
        finally:
            await public_only.close()

    return send


async def test_a_public_only_worker_connects_to_the_address_it_checked_not_to_a_later_answer(
    send_to_partner: Callable[[Receiver], Awaitable[None]],
    partner: Receiver,
    partner_dns: PartnerDns,
    owner_conn: asyncpg.Connection,
) -> None:
    # the name answers with a public address once, then with the node's own (DNS rebinding)
    partner_dns.answers = [["127.0.0.2"], ["127.0.0.1"]]
    await send_to_partner(partner)

    (received,) = partner.received  # at the address checked: nothing listens on 127.0.0.1
    assert received.headers["host"] == f"{PARTNER_HOST}:{partner.port}"
    assert partner_dns.looked_up == 1
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None


async def test_a_public_only_worker_tries_the_hosts_next_address_when_one_refuses(
    send_to_partner: Callable[[Receiver], Awaitable[None]],
    partner: Receiver,
    partner_dns: PartnerDns,
    owner_conn: asyncpg.Connection,
) -> None:
    partner_dns.answers = [["127.0.0.3", "127.0.0.2"]]  # nothing listens on the first
    await send_to_partner(partner)

    assert len(partner.received) == 1
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None


async def test_a_public_only_worker_refuses_a_name_with_any_private_address(
    send_to_partner: Callable[[Receiver], Awaitable[None]],
    partner: Receiver,
    partner_dns: PartnerDns,
    owner_conn: asyncpg.Connection,
) -> None:
    partner_dns.answers = [["127.0.0.2", "10.1.2.3"]]
    await send_to_partner(partner)

    assert partner.received == []
    (row,) = await messages(owner_conn)
    assert row["last_error"] == "the endpoint's host resolves to a loopback, private or reserved address"


async def test_a_public_only_worker_asks_tls_for_the_urls_name_not_the_address(
    send_to_partner: Callable[[Receiver], Awaitable[None]],
    tls_partner: Receiver,
    partner_dns: PartnerDns,
    owner_conn: asyncpg.Connection,
) -> None:
    partner_dns.answers = [["127.0.0.2"]]
    await send_to_partner(tls_partner)  # its certificate names the host, not the address

    (received,) = tls_partner.received
    assert received.headers["host"] == f"{PARTNER_HOST}:{tls_partner.port}"
    (row,) = await messages(owner_conn)
    assert row["delivered_at"] is not None


def test_a_pinned_url_keeps_its_name_for_the_host_header_and_the_tls_handshake() -> None:
    assert _pinned("https://hooks.example.org/in?v=2", ["2001:db8::7", "192.0.2.7"]) == [
        (
            "https://[2001:db8::7]/in?v=2",
            {"host": "hooks.example.org"},
            {"sni_hostname": "hooks.example.org"},
        ),
        ("https://192.0.2.7/in?v=2", {"host": "hooks.example.org"}, {"sni_hostname": "hooks.example.org"}),
    ]
    assert _pinned("http://hooks.example.org:8080/in", ["192.0.2.7"]) == [
        ("http://192.0.2.7:8080/in", {"host": "hooks.example.org:8080"}, {})
    ]


async def test_delivered_and_failed_messages_are_deleted_after_the_retention_period(
    client: AsyncTestClient,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    worker: Worker,
    owner_conn: asyncpg.Connection,
) -> None:
    await register(client, au, receiver.url)
    await _emit(sessionmaker, au, n=5)
    old_delivered, old_failed, recent, due, old_pending = [r["id"] for r in await messages(owner_conn)]
    days = worker.settings.outbox_retention_days
    for message_id, column, age in (
        (old_delivered, "delivered_at", days + 1),
        (old_failed, "failed_at", days + 1),
        (recent, "delivered_at", days - 1),
    ):
        await owner_conn.execute(
            f"UPDATE outbox_messages SET {column} = now() - make_interval(days => $2) WHERE id = $1",
            message_id,
            age,
        )
    await owner_conn.execute(
        "UPDATE outbox_messages SET created_at = now() - make_interval(days => $2) WHERE id = $1",
        old_pending,
        days + 1,
    )

    assert await prune(worker.sessionmaker, worker.settings) == 2
    assert {r["id"] for r in await messages(owner_conn)} == {recent, due, old_pending}
    assert await prune(worker.sessionmaker, worker.settings) == 0
