"""The transactional outbox: what other domains call inside their transaction, the webhook
endpoints organisations register, and the claim and settlement the delivery worker uses.

``emit`` and ``enqueue_email`` write through the database functions of migration 0007, so a change
made for one organisation can notify another (a request sent by the AU is received by the UN)
without the caller seeing the other's endpoints. Nothing is sent unless the caller's transaction
commits; the worker sends it at least once afterwards.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

import msgspec
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.keys import secret_box
from msnet.auth.principal import Principal
from msnet.db.base import new_id
from msnet.errors import Conflict, Errors, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.outbox import schemas
from msnet.outbox.models import OutboxMessage, WebhookEndpoint
from msnet.search import next_cursor, page_after

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix Standard Webhooks gives secrets)
MAX_ENDPOINTS = 20  # per organisation; also the number of message ids one emit can use
_EMIT = text("SELECT msnet_outbox_emit(:org, :event_type, CAST(:payload AS jsonb), CAST(:ids AS uuid[]))")
_ENQUEUE_EMAIL = text("SELECT msnet_outbox_enqueue_email(:id, :org, CAST(:payload AS jsonb))")
_ENQUEUE_PEER = text("SELECT msnet_outbox_enqueue_peer(:id, :org, :kind, CAST(:payload AS jsonb))")
#: the namespace of peer messages' ids (UUIDv5 of the peer, the kind and the key)
PEER_MESSAGES = UUID("0193a1c6-5e7d-7b7a-9d3e-6f1e2a4b8c10")
_CLAIM = text(
    "SELECT id, organisation_id, kind, event_type, payload, attempts, url, secret_encrypted "
    "FROM msnet_outbox_claim(CAST(:kinds AS text[]), :limit, :lease)"
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
# set by the worker for every message; the caller may not replace them
_RESERVED_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "sender"})


# --- what other domains call, inside their transaction ------------------------------------------


async def emit(session: AsyncSession, *, organisation_id: UUID, event_type: str, data: dict) -> None:
    """Queue ``event_type`` for every active endpoint of ``organisation_id`` subscribed to it (nothing
    if there is none), in the caller's transaction. ``data`` is the event's ``data`` object
    (msgspec builtins: UUIDs, datetimes and structs become JSON)."""
    if event_type not in schemas.EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(schemas.EVENT_TYPES)}")
    body = {"type": event_type, "timestamp": _rfc3339(datetime.now(UTC)), "data": data}
    await session.execute(
        _EMIT,
        {
            "org": organisation_id,
            "event_type": event_type,
            "payload": msgspec.json.encode(body).decode(),
            "ids": [str(new_id()) for _ in range(MAX_ENDPOINTS)],
        },
    )


async def tell(session: AsyncSession, organisations: Iterable[UUID], event_type: str, data: dict) -> None:
    """:func:`emit` the event to each of ``organisations`` (once each, in order)."""
    for organisation_id in dict.fromkeys(organisations):
        await emit(session, organisation_id=organisation_id, event_type=event_type, data=data)


async def enqueue_email(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> UUID:
    """Queue an e-mail (plain text, with an HTML alternative when given) in the caller's transaction;
    its id is also its Message-ID, so every attempt carries the same one."""
    headers = headers or {}
    _check_email(to, subject, headers)
    message_id = new_id()
    payload = {"to": to, "subject": subject, "text": text, "html": html, "headers": headers}
    await session.execute(
        _ENQUEUE_EMAIL,
        {"id": message_id, "org": organisation_id, "payload": msgspec.json.encode(payload).decode()},
    )
    return message_id


def peer_message_id(to: str, kind: str, key: str) -> UUID:
    """The id of the message of ``kind`` under ``key`` for the peer ``to``: the same for every attempt to
    queue it."""
    return uuid5(PEER_MESSAGES, f"{to}\n{kind}\n{key}")


async def enqueue_peer(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    to: str,
    kind: str,
    key: str,
    subject: str,
    body: dict[str, Any],
) -> UUID:
    """Queue, in the caller's transaction, a message for the peer node ``to`` (its issuer), on behalf of
    ``organisation_id``: signed and delivered by the worker's peer delivery (``msnet.federation.inbox``).
    Queued once under (``to``, ``kind``, ``key``): queuing it again does nothing. The messages for one
    peer about one ``subject`` are delivered in the order they were queued. Returns the message's id."""
    message_id = peer_message_id(to, kind, key)
    payload = {"to": to, "kind": kind, "subject": subject, "body": body}
    await session.execute(
        _ENQUEUE_PEER,
        {
            "id": message_id,
            "org": organisation_id,
            "kind": kind,
            "payload": msgspec.json.encode(payload).decode(),
        },
    )
    return message_id


def _check_email(to: str, subject: str, headers: dict[str, str]) -> None:
    """Programming errors, refused before they reach the outbox: no header injection."""
    if not re.fullmatch(r"[^@\s,;<>]{1,64}@[^@\s,;<>]{1,190}", to):
        raise ValueError("to must be one e-mail address")
    for name, value in [("Subject", subject), *headers.items()]:
        if not _HEADER_NAME.match(name) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} must be a plain name with a one-line value")
    reserved = sorted(n for n in headers if n.lower() in _RESERVED_HEADERS)
    if reserved:
        raise ValueError(f"headers may not set {', '.join(reserved)}")


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- endpoints ----------------------------------------------------------------------------------


def webhook_box(secret_key: str) -> Fernet:
    """The encryption that keeps endpoint secrets at rest (a key derived from MSNET_SECRET_KEY)."""
    return secret_box(secret_key, b"webhook-secrets")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def is_public(address: str) -> bool:
    """Whether an IP address is a public one (not loopback, private, link-local, shared, reserved…)."""
    return ip_address(address).is_global


def check_url(url: str, *, private_addresses: bool) -> str:
    """``url`` if events may be POSTed to it; a 422 naming every reason it may not."""
    parts = urlsplit(url)
    with Errors() as errors:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.add("url", "must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            errors.add("url", "must not carry credentials; verify the signature instead")
        if parts.fragment or any(c.isspace() for c in url):
            errors.add("url", "must not contain a fragment or white space")
        try:
            parts.port  # noqa: B018 (a malformed port raises here)
        except ValueError:
            errors.add("url", "has a malformed port")
        if parts.hostname and not private_addresses and not _may_be_public(parts.hostname):
            errors.add(
                "url",
                "points at a loopback, private or reserved address: only public endpoints receive events "
                "(MSNET_WEBHOOK_PRIVATE_ADDRESSES=on allows such addresses, for development only)",
            )
    return url


def _may_be_public(host: str) -> bool:
    """False for an address literal that is not public, or a name that always means this machine;
    other names are checked where they are resolved, at delivery."""
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return is_public(host)
    except ValueError:  # a name, not an address
        return True


def to_schema(row: WebhookEndpoint, slug: str) -> schemas.Webhook:
    return schemas.Webhook(
        id=row.id,
        organisation=slug,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        active=row.active,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    data: schemas.WebhookCreate,
    *,
    secret_key: str,
    private_addresses: bool,
    idempotency_key: str | None = None,
) -> schemas.WebhookCreated | Replayed:
    """The new endpoint, with its secret in clear (for this one answer only: a replay under the same
    ``idempotency_key`` gets the endpoint without it)."""
    shown: list[str] = []

    async def create() -> schemas.Webhook:
        endpoint, secret = await _create_endpoint(session, principal, data, secret_key, private_addresses)
        shown.append(secret)
        return endpoint

    result = await idempotent(session, principal, idempotency_key, "webhook.create", data, create)
    if isinstance(result, Replayed):
        return result
    return schemas.WebhookCreated(**msgspec.structs.asdict(result), secret=shown[0])


async def _create_endpoint(
    session: AsyncSession,
    principal: Principal,
    data: schemas.WebhookCreate,
    secret_key: str,
    private_addresses: bool,
) -> tuple[schemas.Webhook, str]:
    url = check_url(data.url, private_addresses=private_addresses)
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("msnet.webhooks." + str(principal.org_id))))
    )
    count = await session.scalar(
        select(func.count()).where(WebhookEndpoint.organisation_id == principal.org_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise Conflict(f"an organisation may register at most {MAX_ENDPOINTS} webhook endpoints")
    secret = new_secret()
    row = WebhookEndpoint(
        organisation_id=principal.org_id,
        url=url,
        event_types=sorted(set(data.event_types)),
        description=data.description,
        secret_encrypted=webhook_box(secret_key).encrypt(secret.encode()).decode(),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    endpoint = to_schema(row, principal.org_slug)
    await record_action(
        session,
        principal,
        "webhook.create",
        "webhook",
        endpoint.id,
        {"url": endpoint.url, "event_types": endpoint.event_types},
    )
    return endpoint, secret


async def list_endpoints(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> schemas.WebhookPage:
    query = select(WebhookEndpoint).where(WebhookEndpoint.organisation_id == principal.org_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(await session.scalars(page_after(query, cursor, None, WebhookEndpoint.id).limit(limit + 1)))
    return schemas.WebhookPage(
        items=[to_schema(r, principal.org_slug) for r in rows[:limit]],
        next_cursor=next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


async def delete_endpoint(session: AsyncSession, principal: Principal, endpoint_id: UUID) -> None:
    """Gone, with its undelivered messages."""
    deleted = await session.scalar(
        delete(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organisation_id == principal.org_id)
        .returning(WebhookEndpoint.id)
    )
    if deleted is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    await record_action(session, principal, "webhook.delete", "webhook", endpoint_id)


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A message leased to one worker: what its delivery needs, and the attempt it is."""

    id: UUID
    organisation_id: UUID
    kind: str
    event_type: str | None
    payload: dict[str, Any]
    attempts: int
    url: str | None
    secret_encrypted: str | None


async def prune(session: AsyncSession, *, days: int) -> int:
    """Delete the messages (of every organisation) delivered or failed more than ``days`` days ago,
    at most 10,000 a call; how many were deleted."""
    return await session.scalar(text("SELECT msnet_outbox_prune(:days)"), {"days": days}) or 0


async def claim(session: AsyncSession, *, kinds: list[str], limit: int, lease: timedelta) -> list[Claimed]:
    """Up to ``limit`` due messages of every organisation, leased for ``lease``: another worker
    takes them only if this one has not settled them by then."""
    rows = await session.execute(
        _CLAIM, {"kinds": kinds, "limit": limit, "lease": int(lease.total_seconds())}
    )
    return [Claimed(**row._mapping) for row in rows]


async def settle(
    session: AsyncSession, message: Claimed, *, error: str | None, retry_in: timedelta | None
) -> bool:
    """Record an attempt's outcome, acting for the message's organisation: delivered (no error), due
    again in ``retry_in``, or failed for good. False if the lease was lost to another worker."""
    values: dict[str, Any]
    if error is None:
        values = {"delivered_at": func.now(), "last_error": None}
    elif retry_in is not None:
        values = {"next_attempt_at": func.now() + retry_in, "last_error": error[:500]}
    else:
        values = {"failed_at": func.now(), "last_error": error[:500]}
    settled = await session.scalar(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.attempts == message.attempts,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .values(**values)
        .returning(OutboxMessage.id)
    )
    return settled is not None
