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

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from asyncpg import Range
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
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


def verify(token: str, keys: KeySet, peer: str, index: int) -> Verified:
    """The item of ``token`` if it is a good one from ``peer``; :class:`PageRejected` naming what is wrong."""
    where = f"item {index}"
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise PageRejected(f"{where}: not a JWS ({exc})") from None
    if header.get("typ") != ITEM_TYPE or header.get("alg") != ALG:
        raise PageRejected(
            f"{where}: not a change item (typ {header.get('typ')!r}, alg {header.get('alg')!r})"
        )
    kid = header.get("kid")
    if not any(k.kid == kid for k in keys.keys):
        raise UnknownKey(f"{where}: signed with key {kid!r}, not one of {peer}'s")
    try:
        payload = jws.deserialize_compact(token, keys, algorithms=[ALG]).payload
    except (JoseError, ValueError) as exc:
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
    for v in sorted(verified, key=lambda v: ORDER[v.item.kind] * (-1 if v.item.tombstone else 1)):
        item = v.item
        origin, version = held.get((item.kind, item.id), (peer, 0))
        if origin != peer:
            raise PageRejected(f"{item.kind} {item.id}: held from {origin}, not {peer}")
        if version >= item.version:
            result.unchanged += 1
            continue
        await _act_for(session, item.organisation)
        try:
            if v.body is None:
                await _remove(session, item)
            else:
                await _write(session, item, v.body)
        except (IntegrityError, ProgrammingError, DataError) as exc:  # the page is rolled back whole
            raise PageRejected(f"{item.kind} {item.id}: refused here ({exc.orig})") from None
        values = {
            "origin": peer,
            "version": item.version,
            "deleted": item.tombstone,
            "updated_at": item.updated_at,
        }
        await session.execute(
            insert(Replica)
            .values(kind=item.kind, record_id=item.id, **values)
            .on_conflict_do_update(
                index_elements=[Replica.kind, Replica.record_id], set_={**values, "received_at": func.now()}
            )
        )
        held[(item.kind, item.id)] = (peer, item.version)
        result.applied += 1
        if result.newest is None or item.updated_at > result.newest:
            result.newest = item.updated_at
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


async def _write(session: AsyncSession, item: Item, body: Body) -> None:
    model = MODELS[item.kind]
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
    update_values = {k: v for k, v in values.items() if k not in ("id", "created_at")}
    written = await session.scalar(
        insert(model)
        .values(values)
        .on_conflict_do_update(
            index_elements=[model.id], set_=update_values, where=model.origin == item.origin
        )
        .returning(model.id)
    )
    if written is None:
        raise PageRejected(f"{item.kind} {item.id}: a record of another origin holds this id here")


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
