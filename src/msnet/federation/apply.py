"""Applying a page of a peer's change feed: every item verified first, then each applied if newer.

An item is verified against the origin's keys (its JWS signature), must come from the peer that
sent it (``origin`` is that peer: a node never accepts a relayed record), belong to an organisation
homed on that peer, be of a kind that replicates and carry a well-formed body with only the fields
that travel. One bad item rejects the whole page before anything is written, and the cursor stays.

Each record held from a peer has a row in ``federation_replicas`` (its newest version applied): an
item whose version is not newer is a no-op (a duplicate, an old version, a page sent again, a change
after a tombstone). A newer upsert writes the record as the origin minted it (its ``updated_at``
kept; the time received is the replica row's); a tombstone deletes the local copy (the change log
keeps a tombstone). A record of this node's own, or of another origin, is never overwritten: the
page is rejected. Everything happens in the caller's transaction, which also advances the cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import Any, Literal
from uuid import UUID

import msgspec
from asyncpg import Range
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db.engine import set_organisation
from msnet.federation.feed import ALG, ITEM_TYPE, MODELS
from msnet.federation.replicas import Replica
from msnet.organisations.models import Organisation
from msnet.processes.models import Process

Kind = Literal["organisation", "office", "capacity", "expert", "process", "training", "publication"]
Sharing = Literal["restricted", "network", "public"]
#: the order records are written in within a page, so a record is there before one that refers to it
ORDER = {
    kind: n
    for n, kind in enumerate(
        ("organisation", "office", "process", "expert", "capacity", "training", "publication")
    )
}


class Body(msgspec.Struct, forbid_unknown_fields=True):
    pass


class OrganisationBody(Body):
    slug: str
    name: str
    acronym: str | None
    kind: str
    identifiers: list[str]


class OfficeBody(Body):
    name: str
    mandate: str
    parent_structure: str
    staff_size: int | None
    role_mailbox: str | None


class CapacityBody(Body):
    office_id: UUID
    service_type: str
    themes: list[str]
    countries: list[str]
    regions: list[str]
    languages: list[str]
    lead_time_days: int
    concurrent_engagements: int
    notes: str
    last_confirmed_at: datetime


class Window(msgspec.Struct):
    start: date
    end: date


class ExpertBody(Body):
    name: str
    bio: str
    seniority: str | None
    expertise: list[dict[str, Any]]
    themes: list[str]
    service_types: list[str]
    languages: list[dict[str, Any]]
    language_codes: list[str]
    nationalities: list[str]
    experience: list[str]
    regions: list[str]
    availability: list[dict[str, Any]]
    affiliations: list[str]
    past_processes: list[str]


class ProcessBody(Body):
    name: str
    description: str
    countries: list[str]
    region: str | None
    regions: list[str]
    level: str
    track: str
    lead_mediators: list[UUID]
    conflict_parties: list[str]
    phase: str
    ucdp_conflict_id: int | None
    peace_agreement_ids: list[str]
    merged_into: UUID | None
    merged_at: datetime | None


class TrainingBody(Body):
    title: str
    description: str
    kind: str
    themes: list[str]
    format: str
    city: str | None
    country: str | None
    regions: list[str]
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    application_deadline: datetime | None
    seats: int | None
    languages: list[str]
    audience: list[str]
    cost: str
    apply_url: str | None
    apply_email: str | None


class PublicationBody(Body):
    title: str
    summary: str
    themes: list[str]
    languages: list[str]
    url: str
    published_on: date


BODIES: dict[str, type[Body]] = {
    "organisation": OrganisationBody,
    "office": OfficeBody,
    "capacity": CapacityBody,
    "expert": ExpertBody,
    "process": ProcessBody,
    "training": TrainingBody,
    "publication": PublicationBody,
}


class Item(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    kind: Kind
    origin: str
    organisation: UUID
    version: int
    updated_at: datetime
    sharing: Sharing | Literal["private"]
    share_with: list[str]
    created_at: datetime | None = None
    body: dict[str, Any] | None = None
    tombstone: bool = False


@dataclass(frozen=True)
class Verified:
    item: Item
    body: Body | None


class PageRejected(Exception):
    """A page with a bad item: nothing of it is applied, and the cursor stays."""


class UnknownKey(PageRejected):
    """An item signed with a key the origin's JWKS, as known here, does not hold."""


@dataclass
class Applied:
    applied: int = 0
    unchanged: int = 0
    newest: datetime | None = None


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def verify(token: str, keys: KeySet, peer: str, index: int) -> Verified:
    """The item of ``token`` if it is a good one from ``peer``; :class:`PageRejected` naming what is wrong.

    The signature is checked with the key object the origin's JWKS holds for its ``kid`` (RS256
    only, whatever the header says otherwise), straight through ``cryptography``: a catch-up checks
    tens of thousands of them."""
    where = f"item {index}"
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64(header_b64))
        payload = _b64(payload_b64)
        signature = _b64(signature_b64)
    except (ValueError, binascii.Error) as exc:
        raise PageRejected(f"{where}: not a JWS ({type(exc).__name__})") from None
    if not isinstance(header, dict) or "crit" in header:
        raise PageRejected(f"{where}: not a JWS header")
    if header.get("typ") != ITEM_TYPE or header.get("alg") != ALG:
        raise PageRejected(
            f"{where}: not a change item (typ {header.get('typ')!r}, alg {header.get('alg')!r})"
        )
    kid = header.get("kid")
    key = next((k for k in keys.keys if k.kid == kid and isinstance(k, RSAKey)), None)
    if key is None:
        raise UnknownKey(f"{where}: signed with key {kid!r}, not one of {peer}'s")
    try:
        key.public_key.verify(
            signature, f"{header_b64}.{payload_b64}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError) as exc:
        raise PageRejected(f"{where}: bad signature ({exc.__class__.__name__})") from None
    try:
        item = msgspec.json.decode(payload, type=Item)
    except msgspec.ValidationError as exc:
        raise PageRejected(f"{where}: malformed ({exc})") from None
    if item.origin != peer:
        raise PageRejected(f"{where}: its origin is {item.origin}, not the peer it came from ({peer})")
    if item.version < 1:
        raise PageRejected(f"{where}: version {item.version}")
    if item.tombstone:
        if item.body is not None:
            raise PageRejected(f"{where}: a tombstone with a body")
        return Verified(item, None)
    if item.body is None:
        raise PageRejected(f"{where}: no body")
    if item.sharing == "private":
        raise PageRejected(f"{where}: a private record")
    if item.kind == "organisation" and item.id != item.organisation:
        raise PageRejected(f"{where}: an organisation's item for another organisation")
    try:
        body = msgspec.convert(item.body, BODIES[item.kind], strict=False)
    except msgspec.ValidationError as exc:
        raise PageRejected(f"{where}: malformed {item.kind} ({exc})") from None
    return Verified(item, body)


async def apply_page(session: AsyncSession, peer: str, tokens: list[str], keys: KeySet) -> Applied:
    """Verify every item of a page from ``peer``, then apply each newer one; :class:`PageRejected`
    (nothing applied: the caller rolls back) if any item is bad."""
    verified = [verify(token, keys, peer, i) for i, token in enumerate(tokens)]
    orgs = {v.item.organisation for v in verified}
    homes = dict(
        (
            await session.execute(select(Organisation.id, Organisation.home).where(Organisation.id.in_(orgs)))
        ).all()
    )
    for i, v in enumerate(verified):
        home = homes.get(v.item.organisation, "missing")
        if home != peer and not (v.item.kind == "organisation" and home == "missing"):
            where = "not known here" if home == "missing" else f"homed on {home or 'this node'}"
            raise PageRejected(f"item {i}: its organisation {v.item.organisation} is {where}, not on {peer}")
    held = {
        (r.kind, r.record_id): (r.origin, r.version)
        for r in await session.scalars(
            select(Replica).where(Replica.record_id.in_([v.item.id for v in verified]))
        )
    }
    result = Applied()
    newest: dict[tuple[str, UUID], Verified] = {}  # an item given twice in a page: its newest version
    for v in verified:
        key = (v.item.kind, v.item.id)
        if key in newest:
            result.unchanged += 1
            if newest[key].item.version >= v.item.version:
                continue
        newest[key] = v
    fresh: list[Verified] = []
    for v in sorted(newest.values(), key=lambda v: ORDER[v.item.kind] * (-1 if v.item.tombstone else 1)):
        origin, version = held.get((v.item.kind, v.item.id), (peer, 0))
        if origin != peer:
            raise PageRejected(f"{v.item.kind} {v.item.id}: held from {origin}, not {peer}")
        if version >= v.item.version:
            result.unchanged += 1
            continue
        fresh.append(v)
    # written in runs of one kind and organisation (row-level security checks the organisation set)
    for (kind, org, removed), run in groupby(
        fresh, key=lambda v: (v.item.kind, v.item.organisation, v.body is None)
    ):
        items = list(run)
        await _act_for(session, org)
        try:
            if removed:
                for v in items:
                    await _remove(session, v.item)
            else:
                await _write(session, peer, kind, items)
        except (IntegrityError, ProgrammingError, DataError) as exc:  # the page is rolled back whole
            raise PageRejected(f"{kind} {items[0].item.id}…: refused here ({exc.orig})") from None
    if fresh:
        replicas = insert(Replica.__table__)
        await session.execute(
            replicas.on_conflict_do_update(
                index_elements=["kind", "record_id"],
                set_={
                    "origin": replicas.excluded.origin,
                    "version": replicas.excluded.version,
                    "deleted": replicas.excluded.deleted,
                    "updated_at": replicas.excluded.updated_at,
                    "received_at": func.now(),
                },
            ),
            [
                {
                    "kind": v.item.kind,
                    "record_id": v.item.id,
                    "origin": peer,
                    "version": v.item.version,
                    "deleted": v.item.tombstone,
                    "updated_at": v.item.updated_at,
                }
                for v in fresh
            ],
        )
    result.applied = len(fresh)
    result.newest = max((v.item.updated_at for v in fresh), default=None)
    return result


async def _act_for(session: AsyncSession, org: UUID) -> None:
    """Write as the record's organisation (row-level security checks it on every write), in this
    transaction and its savepoints."""
    await set_organisation(session, org)


async def _share_with(session: AsyncSession, slugs: list[str]) -> list[UUID]:
    """The ids of the organisations named that this node knows (a restricted record is seen here by
    those of them homed here; the rest are not this node's to know)."""
    if not slugs:
        return []
    return list(await session.scalars(select(Organisation.id).where(Organisation.slug.in_(slugs))))


async def _values(session: AsyncSession, item: Item, body: Body) -> dict[str, Any]:
    """The columns of the local copy of ``item``, checked against what this node holds."""
    fields = msgspec.structs.asdict(body)
    values: dict[str, Any] = {
        "id": item.id,
        "origin": item.origin,
        "version": item.version,
        "updated_at": item.updated_at,
        **fields,
    }
    if item.created_at is not None:
        values["created_at"] = item.created_at
    if item.kind == "organisation":
        values["home"] = item.origin
    else:
        values["organisation_id"] = item.organisation
        values["sharing"] = item.sharing
        values["share_with"] = (
            await _share_with(session, item.share_with) if item.sharing == "restricted" else []
        )
    if item.kind == "expert":
        windows = msgspec.convert(fields["availability"], list[Window])
        values["available"] = [Range(w.start, w.end, upper_inc=True) for w in windows]
    if item.kind == "capacity":  # only under an office of its own organisation
        office = MODELS["office"]
        if (
            await session.scalar(
                select(office.id).where(
                    office.id == fields["office_id"], office.organisation_id == item.organisation
                )
            )
            is None
        ):
            raise PageRejected(f"capacity {item.id}: its office is not one of its organisation's here")
    if item.kind == "process" and fields["merged_into"] is not None:
        present = await session.scalar(select(Process.id).where(Process.id == fields["merged_into"]))
        values["merged_into"] = present
    return values


async def _write(session: AsyncSession, peer: str, kind: str, items: list[Verified]) -> None:
    """Insert or update the local copies of ``items`` (all of ``kind``, from ``peer``), in one
    statement for each set of columns: a record of another origin holding one of their ids rejects
    the page."""
    table = MODELS[kind].__table__
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for v in items:
        assert v.body is not None
        values = await _values(session, v.item, v.body)
        by_columns.setdefault(tuple(values), []).append(values)
    for columns, rows in by_columns.items():
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={c: statement.excluded[c] for c in columns if c not in ("id", "created_at")},
            where=table.c.origin == peer,
        ).returning(table.c.id)
        written = set((await session.execute(statement, rows)).scalars())
        for row in rows:
            if row["id"] not in written:
                raise PageRejected(f"{kind} {row['id']}: a record of another origin holds this id here")


async def _remove(session: AsyncSession, item: Item) -> None:
    """Delete the local copy; one that local records still refer to (a request to an office, say)
    stays, private to its organisation, so no one here sees it."""
    model = MODELS[item.kind]
    if item.kind == "organisation":
        return  # an organisation is never deleted; its records go with their own tombstones
    mine = await session.scalar(select(model.origin).where(model.id == item.id))
    if mine is not None and mine != item.origin:
        raise PageRejected(f"{item.kind} {item.id}: a record of another origin holds this id here")
    try:
        async with session.begin_nested():
            await session.execute(delete(model).where(model.id == item.id, model.origin == item.origin))
    except IntegrityError:
        await session.execute(
            update(model)
            .where(model.id == item.id, model.origin == item.origin)
            .values(sharing="private", share_with=[], version=item.version)
        )
