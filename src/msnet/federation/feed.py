"""The change feed a node serves its peers: each item the signed, full state of one record it homes.

A page is read from the change log (``msnet.db.changes.read_changes``, commit order below a safe
horizon) and holds one item for each record that changed in it, as the record stands now: a body
when the calling peer's organisations (its *audience*) may see it, else a tombstone when they may
have seen it before (deleted, erased, or its sharing narrowed), else nothing. Only records whose
origin is this node leave it: a node never relays what it holds from another.

What an audience sees is decided twice, independently: the query asks the database for what the
audience may read (row-level security, ``msnet.audience``, migration 0024, with the sharing rule
spelt out in the statement too), and every item is checked again against the audience, from the
payload about to be signed, right before the page is served. A ``restricted`` record with no
``share_with`` is seen by nobody. Each item is signed once, as long as it stays the same
(``msnet.federation.signatures``).

Cursors are opaque: a version prefix, the position, and an HMAC binding it to this node, the
calling peer and its audience. One that does not parse answers 422; one this node did not give to
this peer for this audience (another node's, another peer's, an audience that changed since), or
past the log's horizon, answers 410 and the peer reads again from the start (a snapshot: every
record its audience may see, then the changes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from joserfc import jws
from joserfc.jwk import RSAKey
from msgspec import Meta, Struct
from sqlalchemy import BigInteger, Text, and_, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db.changes import Change, Position, read_changes
from msnet.directory.models import Capacity, Office
from msnet.errors import InvalidInput, MsnetError
from msnet.federation.signatures import signed_items
from msnet.logs import get_logger
from msnet.organisations.models import Organisation
from msnet.processes.models import Process
from msnet.roster.models import Expert
from msnet.training.models import Publication, Training

ITEM_TYPE = "msnet-change+jws"
ALG = "RS256"
MAX_LIMIT = 500
DEFAULT_LIMIT = 200
log = get_logger("msnet.federation.feed")

#: The records that replicate, by kind, and the fields of each that travel (global ids only; an
#: expert's contact details are another table and never travel, nor its organisation's own
#: reference or consent record)
MODELS: dict[str, Any] = {
    "organisation": Organisation,
    "office": Office,
    "capacity": Capacity,
    "expert": Expert,
    "process": Process,
    "training": Training,
    "publication": Publication,
}
FIELDS: dict[str, tuple[str, ...]] = {
    "organisation": ("slug", "name", "acronym", "kind", "identifiers"),
    "office": ("name", "mandate", "parent_structure", "staff_size", "role_mailbox"),
    "capacity": (
        "office_id",
        "service_type",
        "themes",
        "countries",
        "regions",
        "languages",
        "lead_time_days",
        "concurrent_engagements",
        "notes",
        "last_confirmed_at",
    ),
    "expert": (
        "name",
        "bio",
        "seniority",
        "expertise",
        "themes",
        "service_types",
        "languages",
        "language_codes",
        "nationalities",
        "experience",
        "regions",
        "availability",
        "affiliations",
        "past_processes",
    ),
    "process": (
        "name",
        "description",
        "countries",
        "region",
        "regions",
        "level",
        "track",
        "lead_mediators",
        "conflict_parties",
        "phase",
        "ucdp_conflict_id",
        "peace_agreement_ids",
        "merged_into",
        "merged_at",
    ),
    "training": (
        "title",
        "description",
        "kind",
        "themes",
        "format",
        "city",
        "country",
        "regions",
        "starts_at",
        "ends_at",
        "time_zone",
        "application_deadline",
        "seats",
        "languages",
        "audience",
        "cost",
        "apply_url",
        "apply_email",
    ),
    "publication": ("title", "summary", "themes", "languages", "url", "published_on"),
}
SEEN_BY_PEERS = ("network", "public")


class CursorGone(MsnetError):
    """A cursor this node cannot continue from: read again from the start."""

    status = 410
    title = "Gone"
    type_slug = "cursor-gone"


@dataclass(frozen=True)
class Audience:
    """The organisations homed on the calling peer: what they may see is what the peer gets."""

    peer: str
    org_ids: frozenset[UUID]
    slugs: frozenset[str]

    def digest(self) -> str:
        return hashlib.sha256(
            "\n".join([self.peer, *sorted(str(o) for o in self.org_ids)]).encode()
        ).hexdigest()

    def may_see(self, sharing: str, share_with: Iterable[str]) -> bool:
        """The second check, on the payload about to leave: public and network records, and
        restricted ones naming one of the audience's organisations; never private ones."""
        if sharing in SEEN_BY_PEERS:
            return True
        return sharing == "restricted" and not self.slugs.isdisjoint(share_with)


@dataclass(frozen=True)
class FeedPage:
    items: list[str]
    next_cursor: str
    #: the page read as many changes as it could: more may follow at once
    more: bool


class ChangePage(Struct):
    """A page of the change feed."""

    items: Annotated[
        list[str],
        Meta(
            description="Each a JWS (compact serialization) signed by this node: the full state of one "
            "record at one version (`id`, `kind`, `origin`, `organisation`, `version`, `created_at`, "
            "`updated_at`, `sharing`, `share_with` naming only your organisations, `body`), or its "
            "tombstone (`tombstone: true`, no body) when it was deleted or is no longer shared with "
            "your organisations."
        ),
    ]
    next_cursor: Annotated[str, Meta(description="Where to go on from; on every page, empty ones included.")]
    more: Annotated[
        bool,
        Meta(
            description="More changes follow at once: read on. False when the feed is read to its end for now."
        ),
    ]


# ---- cursors ------------------------------------------------------------------------------------

CURSOR_VERSION = "c1"


def _mac(secret: bytes, audience: Audience, position: Position) -> str:
    message = f"{audience.digest()}|{position.txid}|{position.seq}".encode()
    return base64.urlsafe_b64encode(hmac.digest(secret, message, "sha256")[:16]).decode().rstrip("=")


def encode_cursor(secret: bytes, audience: Audience, position: Position) -> str:
    return f"{CURSOR_VERSION}.{position.txid}.{position.seq}.{_mac(secret, audience, position)}"


def decode_cursor(secret: bytes, audience: Audience, cursor: str) -> Position:
    """The position a cursor stands for; 422 if it is not one, 410 if it is not this peer's."""
    parts = cursor.split(".")
    if (
        len(parts) != 4
        or parts[0] != CURSOR_VERSION
        or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts[1:3])
    ):
        raise InvalidInput.field("cursor", "is not a cursor this feed gave out")
    position = Position(int(parts[1]), int(parts[2]))
    if position.txid >= 2**63 or position.seq >= 2**63:
        raise InvalidInput.field("cursor", "is not a cursor this feed gave out")
    if not hmac.compare_digest(parts[3], _mac(secret, audience, position)):
        raise CursorGone(
            "this cursor was not given to this peer for the organisations it homes now: "
            "read again from the start (no cursor)"
        )
    return position


# ---- items --------------------------------------------------------------------------------------


def sign_item(key: RSAKey, payload: dict[str, Any]) -> str:
    """An item signed now (the feed reuses kept signatures: ``msnet.federation.signatures``)."""
    header = {"alg": ALG, "kid": key.kid, "typ": ITEM_TYPE}
    return jws.serialize_compact(header, msgspec.json.encode(payload), key, algorithms=[ALG])


def _body(kind: str, record: Any) -> dict[str, Any]:
    return msgspec.to_builtins({field: getattr(record, field) for field in FIELDS[kind]})


def _audience_sees(model: Any, audience: Audience) -> Any:
    """The sharing rule for ``audience``, spelt out in the statement (row-level security applies
    the same rule again, ``msnet.audience``)."""
    ids = list(audience.org_ids)
    return or_(
        model.sharing.in_(SEEN_BY_PEERS),
        and_(model.sharing == "restricted", model.share_with.op("&&")(cast(ids, ARRAY(model.id.type)))),
    )


async def _act_for(session: AsyncSession, audience: Audience) -> None:
    """Read as the audience, in this transaction only: no organisation, so only the sharing rule
    (for the audience) lets rows through."""
    await session.execute(
        text("SELECT set_config('msnet.org', '', true), set_config('msnet.audience', :a, true)"),
        {"a": "{" + ",".join(str(o) for o in sorted(audience.org_ids, key=str)) + "}"},
    )


async def _horizon(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger))
        )
    )


async def _current(
    session: AsyncSession, kind: str, ids: Sequence[UUID], audience: Audience, origin: str
) -> dict[UUID, Any]:
    """The records of ``kind`` among ``ids`` that this node homes and the audience may see now."""
    model = MODELS[kind]
    statement = select(model).where(model.id.in_(ids), model.origin == origin)
    if kind != "organisation":
        statement = statement.where(_audience_sees(model, audience))
    if kind == "expert":
        statement = statement.where(Expert.deleted_at.is_(None))
    if kind == "capacity":  # a capacity of an office the audience cannot see stays behind with it
        statement = statement.join(Office, Office.id == Capacity.office_id).where(
            _audience_sees(Office, audience)
        )
    return {record.id: record for record in await session.scalars(statement)}


async def _seen_before(
    session: AsyncSession, keys: Sequence[tuple[str, UUID]], audience: Audience
) -> dict[tuple[str, UUID], int]:
    """For each record of ``keys`` the audience may have been sent (one of its changes was one the
    audience could see), its newest version in the log: the version of its tombstone."""
    if not keys:
        return {}
    ids = list(audience.org_ids)
    record_ids = [record_id for _, record_id in keys]
    rows = await session.execute(
        select(Change.kind, Change.record_id, func.max(Change.version))
        .where(Change.record_id.in_(record_ids))
        .group_by(Change.kind, Change.record_id)
        .having(
            func.bool_or(
                (Change.op == "upsert")
                & or_(
                    Change.sharing.in_(SEEN_BY_PEERS),
                    and_(
                        Change.sharing == "restricted",
                        Change.share_with.op("&&")(cast(ids, ARRAY(Change.record_id.type))),
                    ),
                )
            )
        )
    )
    wanted = set(keys)
    return {(k, r): v for k, r, v in rows.all() if (k, r) in wanted}


async def page(
    session: AsyncSession,
    *,
    origin: str,
    key: RSAKey,
    cursor_secret: bytes,
    audience: Audience,
    cursor: str | None,
    limit: int,
) -> FeedPage:
    """The next page of the feed for ``audience`` after ``cursor`` (from the start without one)."""
    await _act_for(session, audience)
    after = decode_cursor(cursor_secret, audience, cursor) if cursor else None
    if after is not None and after.txid >= await _horizon(session):
        raise CursorGone("this cursor is past the end of this node's change log: read again from the start")
    read = await read_changes(session, after, limit)
    last: dict[tuple[str, UUID], Change] = {}
    for change in read.changes:
        if change.origin == origin:
            last.pop((change.kind, change.record_id), None)
            last[(change.kind, change.record_id)] = change
    by_kind: dict[str, list[UUID]] = {}
    for kind, record_id in last:
        by_kind.setdefault(kind, []).append(record_id)
    current: dict[tuple[str, UUID], Any] = {}
    for kind, ids in by_kind.items():
        current.update(
            ((kind, i), r) for i, r in (await _current(session, kind, ids, audience, origin)).items()
        )
    gone = await _seen_before(session, [k for k in last if k not in current], audience)
    slugs = await _slugs(
        session, {o for r in current.values() if hasattr(r, "share_with") for o in r.share_with}
    )
    to_sign: list[tuple[str, UUID, dict[str, Any]]] = []
    for (kind, record_id), change in last.items():
        record = current.get((kind, record_id))
        if record is not None:
            payload = _upsert(kind, record, slugs, audience)
        elif (kind, record_id) in gone:
            payload = _tombstone(kind, record_id, change, gone[(kind, record_id)], origin)
        else:
            continue
        if not _passes(payload, audience):
            continue
        to_sign.append((kind, record_id, payload))
    items = await signed_items(session, key, ITEM_TYPE, to_sign)
    return FeedPage(items, encode_cursor(cursor_secret, audience, read.next), len(read.changes) == limit)


def _upsert(kind: str, record: Any, slugs: dict[UUID, str], audience: Audience) -> dict[str, Any]:
    """The record's item; its ``share_with`` names only the audience's organisations (who else a
    record is shared with is not the peer's to know)."""
    organisation = record.id if kind == "organisation" else record.organisation_id
    return {
        "id": str(record.id),
        "kind": kind,
        "origin": record.origin,
        "organisation": str(organisation),
        "version": record.version,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "sharing": getattr(record, "sharing", "public"),
        "share_with": sorted(
            slugs[o] for o in getattr(record, "share_with", []) if o in audience.org_ids and o in slugs
        ),
        "body": _body(kind, record),
    }


def _tombstone(kind: str, record_id: UUID, change: Change, version: int, origin: str) -> dict[str, Any]:
    return {
        "id": str(record_id),
        "kind": kind,
        "origin": origin,
        "organisation": str(change.organisation_id),
        "version": version,
        "updated_at": change.at.isoformat(),
        "sharing": "private",
        "share_with": [],
        "tombstone": True,
    }


def _passes(payload: dict[str, Any], audience: Audience) -> bool:
    """The second check, on what is about to be signed and served."""
    if payload.get("tombstone"):
        return "body" not in payload
    if not set(payload["body"]) <= set(FIELDS[payload["kind"]]):
        log.error("an item carried more than the fields that travel; not served", id=payload["id"])
        return False
    if not audience.may_see(payload["sharing"], payload["share_with"]):
        log.error(
            "an item the peer may not see reached the page; not served",
            id=payload["id"],
            kind=payload["kind"],
            peer=audience.peer,
        )
        return False
    return True


async def _slugs(session: AsyncSession, ids: set[UUID]) -> dict[UUID, str]:
    if not ids:
        return {}
    return dict(
        (
            await session.execute(select(Organisation.id, Organisation.slug).where(Organisation.id.in_(ids)))
        ).all()
    )
