"""Append to the audit chain, and verify it.

Every entry carries ``hash = sha256(prev_hash + canonical(entry))``, where ``canonical`` is the RFC 8785
serialisation of the entry's fields (``HASHED_FIELDS``, ``at`` as RFC 3339 with microseconds and a UTC
offset, ids as strings) and ``prev_hash`` is the hash of the entry before (64 zeros before the first).
The head row names the last entry, so a deleted tail shows too. Appends lock the head, so concurrent
writers queue behind each other instead of forking the chain: record events late in a transaction.

The chain proves order and integrity against the service role, which can only read and append. The
schema owner can disable the triggers and rewrite it, head included: that needs an external anchor,
the checkpoints peers witnessed (``msnet.federation.checkpoints``), given to ``verify`` as anchors.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import rfc8785
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import decode_cursor, encode_cursor, instant
from msnet.audit import schemas
from msnet.audit.models import AuditEntry
from msnet.audit.schemas import Outcome
from msnet.db.base import new_id
from msnet.db.engine import driver, plain_url
from msnet.organisations.models import Organisation

GENESIS = "0" * 64
OUTCOMES = frozenset(("success", "failure", "denied"))
HASHED_FIELDS = (
    "seq",
    "id",
    "at",
    "organisation_id",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "source",
    "payload_digest",
    "prev_hash",
)


@dataclass(frozen=True)
class AuditEvent:
    """What happened. Only a digest of ``payload`` is stored, so it may name confidential details."""

    organisation_id: uuid.UUID | None
    actor: str  # "client:msc_abc", "operator", "anonymous"
    action: str  # "client.create", "token.issue", "auth.failed", "access.denied", "expert.contact.read"
    resource_type: str
    resource_id: str | None
    outcome: Outcome
    request_id: str | None = None
    source: str | None = None  # the client's address
    payload: Any = None  # JSON-serialisable (msgspec builtins: structs, UUIDs, datetimes too), or None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")


@dataclass(frozen=True)
class Anchor:
    """What someone outside the database holds of the chain: the hash of entry ``size`` (a checkpoint
    a peer witnessed), and how reports ``name`` it."""

    size: int
    hash: str
    name: str


@dataclass(frozen=True)
class VerifyReport:
    """``checked``: entries found intact, in order, before the first bad one (all of them when whole).
    ``first_bad``: the ``seq`` of the first entry that breaks the chain (or, for a deleted tail, of the
    first missing entry; 0 when the head row itself is missing); ``reason`` says why, naming its id.
    ``anchor``: the name of the anchor the chain contradicts, when that is what breaks it (the chain
    is whole but was rewritten at or before ``first_bad``). ``anchored``: the largest size an anchor
    confirmed."""

    checked: int
    first_bad: int | None = None
    reason: str | None = None
    anchor: str | None = None
    anchored: int = 0

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def payload_digest(payload: Any) -> str | None:
    """Hex SHA-256 of the RFC 8785 canonical JSON of ``payload``; None for no payload."""
    if payload is None:
        return None
    return hashlib.sha256(rfc8785.dumps(msgspec.to_builtins(payload))).hexdigest()


def canonical(fields: dict[str, Any]) -> bytes:
    """The RFC 8785 serialisation of an entry's ``HASHED_FIELDS``: the one definition record and verify
    share. Ids become strings, ``at`` RFC 3339 in UTC with microseconds (``2026-11-23T18:05:00.123456+00:00``)."""
    doc = {name: fields[name] for name in HASHED_FIELDS}
    doc["seq"] = int(doc["seq"])
    doc["id"] = str(doc["id"])
    doc["at"] = doc["at"].astimezone(UTC).isoformat(timespec="microseconds")
    doc["organisation_id"] = None if doc["organisation_id"] is None else str(doc["organisation_id"])
    # Text, an integer and nulls only: msgspec's compact JSON with sorted keys is RFC 8785's for them
    # (the same escapes; keys ASCII), in a thirtieth of the time of rfc8785's pure Python.
    return msgspec.json.encode(doc, order="sorted")


def entry_hash(fields: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical(fields))`` as lower-case hex."""
    return hashlib.sha256(fields["prev_hash"].encode("ascii") + canonical(fields)).hexdigest()


# Run on the driver (asyncpg), in the caller's transaction: SQLAlchemy's way to execution cost more
# than the database took to run them. One statement appends the entry and moves the head (a
# data-modifying CTE runs to completion even though nothing reads it). No RETURNING: an entry without
# an organisation is not the writer's to read.
_LOCK_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
_APPEND = """
    WITH entry AS (
        INSERT INTO audit_log (seq, id, at, organisation_id, actor, action, resource_type, resource_id,
                               outcome, request_id, source, payload_digest, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    )
    UPDATE audit_head SET seq = $1, hash = $14 WHERE id = 1
    """


async def record(session: AsyncSession, event: AuditEvent) -> None:
    """Append ``event`` in the caller's transaction (two round trips; flushes, never commits).

    The head stays locked until the transaction ends. An event for another organisation than the
    transaction's, or without one while one is set, is refused by row-level security.
    """
    digest = payload_digest(event.payload)  # before the lock: a bad payload fails without waiting
    await session.flush()  # pending rows first, e.g. the organisation an entry refers to
    connection = await driver(session)
    head = await connection.fetchrow(_LOCK_HEAD)
    if head is None:
        raise RuntimeError("the audit head row is missing: the audit log cannot be appended to")
    fields: dict[str, Any] = {
        "seq": head["seq"] + 1,
        "id": new_id(),
        "at": datetime.now(UTC),  # microseconds, as PostgreSQL stores it
        "organisation_id": event.organisation_id,
        "actor": event.actor,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "outcome": event.outcome,
        "request_id": event.request_id,
        "source": event.source,
        "payload_digest": digest,
        "prev_hash": head["hash"],
    }
    fields["hash"] = entry_hash(fields)
    await connection.execute(_APPEND, *fields.values())


_READ_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_READ_LOG = (
    "SELECT seq, id, at, organisation_id, actor, action, resource_type, resource_id, outcome,"
    " request_id, source, payload_digest, prev_hash, hash FROM audit_log ORDER BY seq"
)
_FIND_HASH = "SELECT seq, id FROM audit_log WHERE hash = $1 ORDER BY seq LIMIT 1"


def _name(row: Any) -> str:
    return f"entry {row['seq']} (id {row['id']})"


def _missing(first: int, last: int) -> str:
    return f"entry {first} is missing" if first == last else f"entries {first} to {last} are missing"


async def verify(admin_url: str, *, batch_size: int = 1000, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """Recompute the chain from the first entry to the head, as the schema owner (who may read every
    organisation's entries), in one consistent snapshot; stop at the first entry that breaks it, or
    whose hash is not the one an anchor holds for it (the chain was rewritten up to there, every
    hash after the change recomputed)."""
    conn = await asyncpg.connect(
        plain_url(admin_url), timeout=10, server_settings={"application_name": "msnet audit verify"}
    )
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _verify(conn, batch_size, anchors)
    finally:
        await conn.close()


async def _verify(conn: asyncpg.Connection, batch_size: int, anchors: Sequence[Anchor]) -> VerifyReport:
    head = await conn.fetchrow(_READ_HEAD)
    if head is None:
        return VerifyReport(0, 0, "the audit head row is missing, so the end of the chain is unknown")
    by_size: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        by_size.setdefault(anchor.size, []).append(anchor)
    anchored = 0
    checked = 0
    prev: Any = None  # the last entry found good
    async for row in conn.cursor(_READ_LOG, prefetch=batch_size):
        seq = row["seq"]
        if seq != checked + 1:
            if seq < 1:
                why = "its sequence number is below 1, where the chain starts"
            elif prev is None:
                why = f"it is the first entry in the log, so {_missing(1, seq - 1)} (deleted?)"
            else:
                why = f"it comes after {_name(prev)}, so {_missing(checked + 1, seq - 1)} (deleted?)"
            return VerifyReport(checked, seq, f"{_name(row)}: {why}")
        if row["prev_hash"] != (GENESIS if prev is None else prev["hash"]):
            return VerifyReport(checked, seq, f"{_name(row)}: {await _broken_link(conn, row, prev)}")
        if entry_hash(dict(row)) != row["hash"]:
            return VerifyReport(
                checked,
                seq,
                f"{_name(row)}: its contents do not match its hash (the entry was altered, or forged)",
            )
        if seq > head["seq"]:
            return VerifyReport(
                checked,
                seq,
                f"{_name(row)} is past the head, which ends at entry {head['seq']}: "
                "it was added without moving the head (inserted behind the log's back?)",
            )
        if seq == head["seq"] and row["hash"] != head["hash"]:
            return VerifyReport(
                checked,
                seq,
                f"{_name(row)} does not have the hash the head recorded for entry {seq}: "
                "the chain was rewritten up to here",
            )
        for anchor in by_size.get(seq, ()):
            if row["hash"] != anchor.hash:
                since = f"after entry {anchored}" if anchored else "from the first entry"
                return VerifyReport(
                    checked,
                    seq,
                    f"{_name(row)} does not have the hash that {anchor.name} holds for it: the chain was "
                    f"rewritten {since} up to entry {seq}, every hash after the change recomputed",
                    anchor=anchor.name,
                    anchored=anchored,
                )
        if seq in by_size:
            anchored = seq
        checked += 1
        prev = row
    beyond = [anchor for anchor in anchors if anchor.size > checked]
    if beyond:
        anchor = min(beyond, key=lambda a: a.size)
        end = f"the log ends at {_name(prev)}" if prev is not None else "the log is empty"
        return VerifyReport(
            checked,
            checked + 1,
            f"{end} but {anchor.name} holds {anchor.size} entries: entries were deleted, or the chain "
            "was replaced",
            anchor=anchor.name,
            anchored=anchored,
        )
    if checked < head["seq"]:
        end = f"the log ends at {_name(prev)}" if prev is not None else "the log is empty"
        return VerifyReport(
            checked,
            checked + 1,
            f"{end} but the head records {head['seq']} entries, so {_missing(checked + 1, head['seq'])} "
            "(the tail was deleted?)",
        )
    if checked == 0 and head["hash"] != GENESIS:
        return VerifyReport(0, 0, "the log is empty but the head's hash is not the genesis hash")
    return VerifyReport(checked, anchored=anchored)


async def _broken_link(conn: asyncpg.Connection, row: Any, prev: Any) -> str:
    """Why ``row`` does not follow the entry before it (its prev_hash is not that entry's hash)."""
    should = f"it should follow {_name(prev)}" if prev is not None else "it should start the chain"
    found = await conn.fetchrow(_FIND_HASH, row["prev_hash"])  # one scan, only for a broken chain
    if found is not None:
        return f"{should} but follows {_name(found)}: entries were reordered, or one was inserted before it"
    return (
        f"{should} but its prev_hash is the hash of no entry in the log: "
        "the entry it followed was deleted or altered, or one was inserted before it"
    )


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    actor: str | None = None


async def list_entries(
    session: AsyncSession, org_id: UUID, filters: AuditFilter, *, limit: int, cursor: str | None
) -> schemas.AuditPage:
    """One organisation's entries, newest first, keyset-paginated on ``seq``."""
    filters = replace(filters, since=instant("since", filters.since), until=instant("until", filters.until))
    conditions = [AuditEntry.organisation_id == org_id]
    if filters.since:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until:
        conditions.append(AuditEntry.at < filters.until)
    for column, value in (
        (AuditEntry.action, filters.action),
        (AuditEntry.resource_type, filters.resource_type),
        (AuditEntry.resource_id, filters.resource_id),
        (AuditEntry.actor, filters.actor),
    ):
        if value is not None:
            conditions.append(column == value)
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    if cursor:
        (before,) = decode_cursor(cursor, int)
        conditions.append(AuditEntry.seq < before)
    rows = (
        await session.execute(
            select(AuditEntry, Organisation.slug)
            .join(Organisation, Organisation.id == AuditEntry.organisation_id)
            .where(*conditions)
            .order_by(AuditEntry.seq.desc())
            .limit(limit + 1)
        )
    ).all()
    items = [
        schemas.AuditEntry(
            seq=e.seq,
            id=e.id,
            at=e.at,
            organisation=slug,
            actor=e.actor,
            action=e.action,
            resource_type=e.resource_type,
            resource_id=e.resource_id,
            outcome=e.outcome,  # type: ignore[arg-type]
            request_id=e.request_id,
            source=e.source,
            payload_digest=e.payload_digest,
            hash=e.hash,
        )
        for e, slug in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1][0].seq) if len(rows) > limit else None
    return schemas.AuditPage(items=items, next_cursor=next_cursor, total=total or 0)


def audit_event(
    scope: Any,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    outcome: str = "success",
    principal: Any = None,
    org_id: UUID | None = None,
    actor: str | None = None,
    payload: Any = None,
) -> AuditEvent:
    """An audit event for the request in ``scope`` (its id and source address), by its principal."""
    origin = RequestOrigin.of(scope)
    return AuditEvent(
        organisation_id=principal.org_id if principal else org_id,
        actor=actor or (principal.actor if principal else "anonymous"),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,  # type: ignore[arg-type]
        request_id=origin.request_id,
        source=origin.source,
        payload=payload,
    )


#: The ``session.info`` key under which the request edge leaves the request a transaction serves.
REQUEST_KEY = "audit.request"


@dataclass(frozen=True)
class RequestOrigin:
    """The request a transaction serves: its id and the caller's address, for the entries it records."""

    request_id: str | None
    source: str | None

    @classmethod
    def of(cls, scope: Any) -> RequestOrigin:
        client = scope.get("client") or (None, None)
        return cls(request_id=scope.get("state", {}).get("request_id"), source=client[0])

    @classmethod
    def of_session(cls, session: AsyncSession) -> RequestOrigin:
        """The request ``session``'s transaction serves, as its edge left it; none for the CLI's."""
        return session.info.get(REQUEST_KEY) or cls(None, None)


async def record_action(
    session: AsyncSession,
    principal: Any,
    action: str,
    resource_type: str,
    resource_id: Any,
    payload: Any = None,
) -> None:
    """Record what ``principal`` did, in the caller's transaction: services call this for each write
    (and each read of personal data), whichever front end asked. The request's id and address come
    from the session (see ``REQUEST_KEY``); a command-line session has neither."""
    origin = RequestOrigin.of_session(session)
    await record(
        session,
        AuditEvent(
            organisation_id=principal.org_id,
            actor=principal.actor,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            outcome="success",
            request_id=origin.request_id,
            source=origin.source,
            payload=payload,
        ),
    )
