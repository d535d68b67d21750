"""The delivery worker: claims due outbox messages and sends them, webhooks over HTTP (signed as
Standard Webhooks specifies) and e-mails over SMTP, at least once, retrying with backoff.

It runs as a job of ``msnet.jobs`` inside ``msnet serve`` (unless MSNET_WORKER=off) and alone as
``msnet worker``; any number may run at once. Each claim is a short transaction that leases a batch
(``FOR UPDATE SKIP LOCKED``, see migration 0007); delivery happens outside any transaction, and each
outcome is recorded in a transaction of its own. A worker that dies mid-delivery loses its lease, and
the message is sent again under the same id: receivers deduplicate on ``webhook-id`` (or the
e-mail's Message-ID).

A worker claims as soon as a message is queued: it listens on ``CHANNEL``, which a trigger on the
outbox notifies when a transaction that queued a message commits (migration 0033), in whichever
process; it also polls every MSNET_WORKER_POLL_INTERVAL seconds, for retries falling due and for the
time it has no listening connection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit, urlunsplit

import aiosmtplib
import asyncpg
import httpx
import msgspec
from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import async_sessionmaker

import msnet
from msnet import tracing
from msnet.db.engine import ORG_KEY
from msnet.logs import get_logger
from msnet.middleware import Metrics
from msnet.outbox import service
from msnet.outbox.service import Claimed
from msnet.settings import Settings

# Standard Webhooks' recommended schedule: the delay after each failed attempt. Eight attempts over
# about 27.6 hours; after the last, the message is failed.
RETRY_SCHEDULE = tuple(
    timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
BATCH = 20
WEBHOOK_TIMEOUT = 15.0  # seconds for a whole delivery, connection included
SMTP_TIMEOUT = 30.0
LEASE = timedelta(minutes=5)  # longer than any delivery may take
#: the channel the outbox's trigger notifies when a transaction that queued a message commits
CHANNEL = "msnet_outbox"
LISTEN_TIMEOUT = 5.0  # seconds to open the listening connection
log = get_logger("msnet.outbox")


class DeliveryError(Exception):
    """An attempt that did not deliver; the message says why, without secrets or personal data.
    A ``permanent`` one is not retried (an SMTP server's 5xx: the address does not exist, say)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the ``attempts``-th failed attempt; None when it was the last."""
    return RETRY_SCHEDULE[attempts - 1] if attempts <= len(RETRY_SCHEDULE) else None


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256, keyed with the secret's
    base64-decoded part after ``whsec_``, of ``{id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix(service.SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def prune(sessionmaker: async_sessionmaker, settings: Settings) -> int:
    """Delete delivered and failed messages older than the retention period; how many."""
    async with sessionmaker() as session, session.begin():
        pruned = await service.prune(session, days=settings.outbox_retention_days)
    log.info("outbox pruned", deleted=pruned, older_than_days=settings.outbox_retention_days)
    return pruned


#: what delivers a message of kind ``peer`` to its peer node (``msnet.federation.inbox.Delivery``);
#: raises ``DeliveryError`` when it was not delivered
PeerDelivery = Callable[[Claimed], Awaitable[None]]


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker,
        settings: Settings,
        metrics: Metrics,
        peer: PeerDelivery | None = None,
    ) -> None:
        assert settings.secret_key
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.metrics = metrics
        self.box = service.webhook_box(settings.secret_key)
        self.tracing = tracing.of(settings.otlp_endpoint)
        # e-mails wait in the outbox for a worker that has an SMTP server to send them through
        self.kinds = ["webhook", "email"] if settings.smtp_host else ["webhook"]
        # messages for peer nodes wait for a worker that can sign them
        self.peer = peer
        if peer is not None:
            self.kinds.append("peer")
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(WEBHOOK_TIMEOUT, connect=5.0),
            follow_redirects=False,
            headers={"user-agent": f"msnet/{msnet.__version__}"},
            # a connection is to an address, and a pooled one would carry another name's request
            # over a TLS session checked for the first name (see _pinned)
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def run_once(self) -> int:
        """Claim one batch of due messages and attempt each; how many were claimed."""
        async with self.sessionmaker() as session, session.begin():
            claimed = await service.claim(session, kinds=self.kinds, limit=BATCH, lease=LEASE)
        results = await asyncio.gather(*(self._attempt(m) for m in claimed), return_exceptions=True)
        for message, result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):  # not recorded: sent again once its lease has run out
                log.error("outbox outcome not recorded", message_id=str(message.id), exc_info=result)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: batch after batch while messages are due, then wait for a
        message queued (``Wakeup``) or the poll interval. A claim that fails (the database out of
        reach, say) raises, for the jobs runner to restart it."""
        log.info("outbox worker started", kinds=self.kinds)
        wakeup = Wakeup(self.settings)
        try:
            while not stop.is_set():
                await wakeup.listen()
                wakeup.queued.clear()  # a message queued from here on is claimed by this round or the next
                if await self.run_once() < BATCH:
                    await _first(stop, wakeup.queued, self.settings.worker_poll_interval)
        finally:
            await wakeup.close()
            log.info("outbox worker stopped")

    async def _attempt(self, message: Claimed) -> None:
        error, permanent = None, False
        span = {"msnet.outbox.message_id": str(message.id), "msnet.outbox.attempt": message.attempts}
        try:
            with tracing.delivery(self.tracing, message.kind, span):
                if message.kind == "webhook":
                    await self._post(message)
                elif message.kind == "peer":
                    assert self.peer is not None
                    await self.peer(message)
                else:
                    await self._mail(message)
        except DeliveryError as exc:
            error, permanent = str(exc), exc.permanent
        retry_in = retry_delay(message.attempts) if error and not permanent else None
        async with self.sessionmaker() as session:
            session.info[ORG_KEY] = message.organisation_id
            async with session.begin():
                settled = await service.settle(session, message, error=error, retry_in=retry_in)
        outcome = "delivered" if error is None else "retry" if retry_in else "failed"
        self.metrics.deliveries.labels(message.kind, outcome).inc()
        log.info(
            "outbox delivery",
            message_id=str(message.id),
            organisation_id=str(message.organisation_id),
            kind=message.kind,
            event_type=message.event_type,
            attempt=message.attempts,
            outcome=outcome,
            error=error,
            next_attempt_in=retry_in.total_seconds() if retry_in else None,
            lease_lost=not settled,
        )

    async def _post(self, message: Claimed) -> None:
        assert message.url
        assert message.secret_encrypted
        try:
            secret = self.box.decrypt(message.secret_encrypted.encode()).decode()
        except InvalidToken:
            raise DeliveryError(
                "the endpoint's secret does not decrypt: was MSNET_SECRET_KEY changed?"
            ) from None
        targets: list[tuple[str, dict[str, str], dict[str, str]]] = [(message.url, {}, {})]
        if not self.settings.webhook_private_addresses:
            targets = _pinned(message.url, await _public_addresses(message.url))
        body = msgspec.json.encode(message.payload)
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "webhook-id": str(message.id),
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, str(message.id), timestamp, body),
            **tracing.propagation(self.tracing),  # W3C traceparent of the delivery's span, when traced
        }
        try:
            async with asyncio.timeout(WEBHOOK_TIMEOUT):
                for i, (url, host, extensions) in enumerate(targets):
                    try:
                        async with self.http.stream(
                            "POST", url, content=body, headers={**headers, **host}, extensions=extensions
                        ) as response:
                            status = response.status_code
                        break
                    except httpx.ConnectError:  # refused or unreachable: on to the host's next address
                        if i == len(targets) - 1:
                            raise
        except (httpx.HTTPError, TimeoutError) as exc:
            raise DeliveryError(type(exc).__name__) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")

    async def _mail(self, message: Claimed) -> None:
        settings = self.settings
        assert settings.smtp_host
        assert settings.mail_from
        payload = message.payload
        mail = EmailMessage()
        mail["From"] = settings.mail_from
        mail["To"] = payload["to"]
        mail["Subject"] = payload["subject"]
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.id}@{settings.mail_from.rsplit('@', 1)[-1]}>"
        for name, value in payload["headers"].items():
            mail[name] = value
        mail.set_content(payload["text"])
        if payload["html"] is not None:
            mail.add_alternative(payload["html"], subtype="html")
        try:
            await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user,
                password=settings.smtp_password,
                use_tls=settings.smtp_tls == "tls",
                start_tls=settings.smtp_tls == "starttls",
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            code = getattr(exc, "code", None)
            # a 5xx reply is permanent (RFC 5321); refused recipients carry theirs
            codes = [
                c for c in (code, *(getattr(r, "code", None) for r in getattr(exc, "recipients", ()))) if c
            ]
            raise DeliveryError(
                f"{type(exc).__name__}{f' {codes[-1]}' if codes else ''}",
                permanent=bool(codes) and all(500 <= c < 600 for c in codes),
            ) from None


class Wakeup:
    """``queued`` set whenever a transaction that queued an outbox message commits: a connection of its
    own (not the pool's) listening on ``CHANNEL``, opened again when lost."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url
        self.url = settings.database_url
        self.queued = asyncio.Event()
        self.connection: asyncpg.Connection | None = None

    async def listen(self) -> None:
        """Listen, unless already listening; when the database cannot be reached, the poll alone finds
        the messages until a later call succeeds."""
        if self.connection is not None and not self.connection.is_closed():
            return
        await self.close()
        try:
            self.connection = await asyncpg.connect(
                self.url, timeout=LISTEN_TIMEOUT, server_settings={"application_name": "msnet outbox"}
            )
            await self.connection.add_listener(CHANNEL, self._notified)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox worker not listening: polling only", error=type(exc).__name__)
            await self.close()

    def _notified(self, *_: object) -> None:
        self.queued.set()

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed():
            connection.terminate()  # no query of its own to finish: nothing lost by not waiting


async def _first(stop: asyncio.Event, queued: asyncio.Event, seconds: float) -> None:
    """Wait until ``stop`` or ``queued`` is set, or ``seconds`` have passed."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(queued.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def _public_addresses(url: str) -> list[str]:
    """The addresses the endpoint's host resolves to, in the resolver's order, if every one is
    public; a delivery error otherwise: a name registered as public may later be pointed at the
    node's own network."""
    parts = urlsplit(url)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise DeliveryError(f"{type(exc).__name__}: the endpoint's host does not resolve") from None
    addresses = list(dict.fromkeys(str(address[0]) for *_, address in found))
    if not all(service.is_public(a) for a in addresses):
        raise DeliveryError("the endpoint's host resolves to a loopback, private or reserved address")
    return addresses


def _pinned(url: str, addresses: list[str]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """``url`` once for each of ``addresses``: (the URL with that address for host, the Host header,
    the request's extensions). The connection goes to an address that was checked, not to whatever
    the name resolves to a moment later (DNS rebinding); the Host header and, over TLS, the name
    the server is asked for (SNI) and its certificate is checked against stay the URL's host."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return [
        (
            urlunsplit(parts._replace(netloc=f"[{a}]{port}" if ":" in a else f"{a}{port}")),
            {"host": parts.netloc},
            extensions,
        )
        for a in addresses
    ]
