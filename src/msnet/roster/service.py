"""The roster: experts, searched with facets, shared as their owners allow; contacts kept apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any
from uuid import UUID

import msgspec
import msgspec.structs
from asyncpg import Range
from msgspec import UNSET
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Uuid,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import DATERANGE
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import set_fields
from msnet.audit.service import AuditEvent, record, record_action
from msnet.auth.principal import Principal
from msnet.errors import Conflict, Errors, HeldElsewhere, InvalidInput, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.preconditions import check_version
from msnet.roster import schemas
from msnet.roster.models import Expert, ExpertContact
from msnet.sharing import (
    apply_changes,
    home_node,
    lock_for_owner,
    resolve_share_with,
    resolve_sharing,
    slugs_of,
    visible,
    visible_to_caller,
)
from msnet.taxonomy import service as taxonomy

TOMBSTONE = "[erased]"
#: Sharing levels at which an expert's contact details may be read by every member organisation (or
#: the expert is listed to anyone): only with the expert's recorded consent.
WIDELY_SHARED = ("network", "public")


@dataclass(frozen=True)
class ExpertFilter:
    q: str | None = None
    organisation: str | None = None
    theme: str | None = None
    service_type: str | None = None
    language: str | None = None
    country: str | None = None
    region: str | None = None
    seniority: str | None = None
    available_from: date | None = None
    available_to: date | None = None


# --- validation ----------------------------------------------------------------------------


def _windows(windows: list[schemas.Window], errors: Errors) -> list[schemas.Window]:
    """Sorted; each ends on or after its start, and none overlaps another (every mistake noted in
    ``errors``; overlaps only between windows that are right themselves)."""
    for i, window in enumerate(windows):
        if window.end < window.start:
            errors.add(f"availability.{i}.end", "is before its start")
        if not (window.remote or window.in_person):
            errors.add(f"availability.{i}", "must allow remote or in-person work")
    ordered = sorted(
        ((i, w) for i, w in enumerate(windows) if w.start <= w.end), key=lambda pair: pair[1].start
    )
    for (_, before), (j, after) in pairwise(ordered):
        if after.start <= before.end:
            errors.add(f"availability.{j}", "overlaps another window")
    return [w for _, w in ordered]


def _validated(changes: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """Check taxonomy terms and windows (every mistake noted in ``errors``); derive the columns
    search uses."""
    if "expertise" in changes:
        for i, item in enumerate(changes["expertise"]):
            errors.check(search.term, f"expertise.{i}.term", item.kind, item.term)
        changes["themes"] = sorted({e.term for e in changes["expertise"] if e.kind == "theme"})
        changes["service_types"] = sorted({e.term for e in changes["expertise"] if e.kind == "service_type"})
        changes["expertise"] = msgspec.to_builtins(changes["expertise"])
    if "languages" in changes:
        codes = [
            errors.check(search.term, f"languages.{i}.code", "language", s.code) or s.code
            for i, s in enumerate(changes["languages"])
        ]
        changes["language_codes"] = sorted(set(codes))
        changes["languages"] = [
            msgspec.to_builtins(msgspec.structs.replace(skill, code=code))
            for skill, code in zip(changes["languages"], codes, strict=True)
        ]
    if "nationalities" in changes:
        changes["nationalities"] = errors.check(
            taxonomy.check, "nationalities", "country", changes["nationalities"]
        )
    if "experience" in changes:
        places = [
            errors.check(search.term, f"experience.{i}", "country" if len(place) == 2 else "region", place)
            for i, place in enumerate(changes["experience"])
        ]
        known = [p for p in places if p is not None]
        changes["experience"] = places
        changes["regions"] = sorted(
            {r for p in known for r in ((p,) if len(p) != 2 else taxonomy.regions_of(p))}
            | {r for p in known if len(p) != 2 for r in _ancestors(p)}
        )
    if "availability" in changes:
        windows = _windows(changes["availability"], errors)
        changes["availability"] = msgspec.to_builtins(windows)
        changes["available"] = [Range(w.start, w.end, upper_inc=True) for w in windows]
    if "consent" in changes:
        changes["consent"] = msgspec.to_builtins(changes["consent"]) if changes["consent"] else None
    return changes


def _ancestors(region: str) -> tuple[str, ...]:
    """The wider regions of an M49 region (Eastern Africa is in Sub-Saharan Africa and Africa)."""
    members = taxonomy.countries_in(region)
    if not members:
        return ()
    common = set(taxonomy.regions_of(next(iter(members))))
    for country in members:
        common &= set(taxonomy.regions_of(country))
    return tuple(sorted(common - {region}))


def validated_changes(
    data: schemas.ExpertCreate | schemas.ExpertUpdate, errors: Errors | None = None
) -> dict[str, Any]:
    """The columns a create or update writes, after every check that needs no database: each
    mistake noted in ``errors``, or without it a 422 naming every one."""
    if errors is not None:
        return _validated(set_fields(data), errors)
    with Errors() as errors:
        return _validated(set_fields(data), errors)


def has_contact(contact: schemas.Contact | None) -> bool:
    return contact is not None and (contact.email is not None or contact.phone is not None)


def check_consent(sharing: str, consent: object, contact: bool) -> None:
    """An expert shared with the whole network or the public, with contact details, needs the
    expert's recorded consent (a 422 naming ``consent`` otherwise)."""
    if sharing in WIDELY_SHARED and contact and not consent:
        raise InvalidInput.field(
            "consent",
            f"is required for an expert shared '{sharing}' with contact details: record the expert's "
            "consent, or share the expert 'private' or 'restricted'",
        )


def external_id_taken(external_id: str, holder: UUID) -> Conflict:
    message = f"'{external_id}' is already the external_id of expert {holder}"
    return Conflict(f"external_id: {message}", errors=[{"field": "external_id", "message": message}])


async def _check_external_id(
    session: AsyncSession, principal: Principal, external_id: str | None, expert_id: UUID | None
) -> None:
    """An external_id is another expert's within the organisation (409): never another's."""
    if external_id is None:
        return
    holder = await session.scalar(
        select(Expert.id).where(Expert.organisation_id == principal.org_id, Expert.external_id == external_id)
    )
    if holder is not None and holder != expert_id:
        raise external_id_taken(external_id, holder)


async def _flush(session: AsyncSession, external_ids: Sequence[str | None]) -> None:
    """Flush the writes of experts with ``external_ids``; a concurrent writer that took one of them
    first is a 409, as it would have been had it committed before this write looked."""
    try:
        await session.flush()
    except IntegrityError as exc:
        named = [e for e in external_ids if e is not None]
        if not named or "uq_experts_external_id" not in str(exc.orig):
            raise
        message = (
            f"'{named[0]}' was just given to another expert"
            if len(named) == 1
            else "one of the external_ids was just given to another expert"
        )
        raise Conflict(
            f"external_id: {message}", errors=[{"field": "external_id", "message": message}]
        ) from None


# --- reading -------------------------------------------------------------------------------


class _StoredExpertise(schemas.Expertise):
    """An expertise as stored: its term was checked when written, so it is not matched against
    the term's pattern again on reading."""

    term: str


class _StoredLanguageSkill(schemas.LanguageSkill):
    """A language skill as stored: its code was checked when written (see :class:`_StoredExpertise`)."""

    code: str


_JSON_COLUMNS = (
    list[_StoredExpertise],
    list[_StoredLanguageSkill],
    list[schemas.Window],
    schemas.Consent | None,
)
#: A page's JSON columns (expertise, languages, availability, consent), row by row, in one document
_PAGE_JSON = msgspec.json.Decoder(list[tuple[_JSON_COLUMNS]])  # type: ignore[valid-type]


def _stored(rows: list[Any]) -> list[Any]:
    """The JSON columns of experts in the response's types: from their text (a search's rows,
    :func:`msnet.search.records`), decoded for the whole page at once, or from what the ORM loaded.
    Matching every stored term and code against its pattern again was most of the cost of a page
    of experts, and decoding two hundred small documents one by one most of the rest."""
    if rows and isinstance(rows[0].expertise, str):
        page = ",".join(f"[{e.expertise},{e.languages},{e.availability},{e.consent or 'null'}]" for e in rows)
        return _PAGE_JSON.decode(f"[{page}]")
    return [
        msgspec.convert((e.expertise, e.languages, e.availability, e.consent or None), tuple[_JSON_COLUMNS])  # type: ignore[valid-type]
        for e in rows
    ]


async def _schemas(session: AsyncSession, rows: list[Any], viewer: UUID | None) -> list[schemas.Expert]:
    """The experts (loaded by the ORM, or a search's rows) as ``viewer`` (an organisation's id, or
    none) sees them: an organisation's own reference (``external_id``) is its business, shown to it
    alone. Their array columns are the lists the driver or the ORM read, not copies (a page's copies
    cost 2 % of an expert search); the ORM never changes such a list in place, it assigns a new one."""
    slugs = await slugs_of(
        session, list({e.organisation_id for e in rows} | {i for e in rows for i in e.share_with})
    )
    return [
        schemas.Expert(
            id=e.id,
            organisation=slugs[e.organisation_id],
            external_id=e.external_id if e.organisation_id == viewer else UNSET,
            name=e.name,
            bio=e.bio,
            seniority=e.seniority,
            expertise=expertise,
            languages=languages,
            nationalities=e.nationalities,
            experience=e.experience,
            regions=e.regions,
            availability=availability,
            affiliations=e.affiliations,
            past_processes=e.past_processes,
            consent=consent,
            sharing=e.sharing,  # type: ignore[arg-type]
            share_with=[slugs[i] for i in e.share_with],
            origin=e.origin,
            version=e.version,
            created_at=e.created_at,
            updated_at=e.updated_at,
        )
        for e, (expertise, languages, availability, consent) in zip(rows, _stored(rows), strict=True)
    ]


async def expert_schema(session: AsyncSession, expert: Expert, viewer: Principal | None) -> schemas.Expert:
    return (await _schemas(session, [expert], viewer.org_id if viewer else None))[0]


def _values(filters: ExpertFilter) -> dict[str, Any]:
    """The filters' values, checked and normalised, by the name of their bind parameter in
    :func:`_hits` (a 422 names every filter with an unknown term). Two or three of theme, language and region become the pairs that stand for
    them (:func:`term_pairs`)."""
    values: dict[str, Any] = {}
    with Errors() as errors:
        if filters.theme:
            values["theme"] = [errors.check(search.term, "theme", "theme", filters.theme)]
        if filters.service_type and (
            term := errors.check(search.term, "service_type", "service_type", filters.service_type)
        ):
            values["service_types"] = [term, *taxonomy.children_of(term)]
        if filters.language:
            values["language"] = [errors.check(search.term, "language", "language", filters.language)]
        if filters.country:
            values["country"] = [errors.check(search.term, "country", "country", filters.country)]
        if filters.region:
            values["region"] = [errors.check(search.term, "region", "region", filters.region)]
        if filters.seniority:
            values["seniority"] = filters.seniority
        if filters.available_from or filters.available_to:
            values["available_from"] = filters.available_from or filters.available_to
            values["available_to"] = filters.available_to or filters.available_from
            if values["available_to"] < values["available_from"]:
                errors.add("available_to", "is before available_from")
    if filters.q:
        values["q"] = filters.q
    theme, language, region = (values.get(name, [None])[0] for name in ("theme", "language", "region"))
    if pairs := term_pairs(theme, language, region):
        values["pairs"] = pairs
        for name in ("theme", "language", "region"):
            values.pop(name, None)
    return values


def term_pairs(theme: str | None, language: str | None, region: str | None) -> list[str]:
    """The terms of ``Expert.term_pairs`` (written by ``msnet_term_pairs``, migration 0012) that say
    an expert has these: with two of them, their pair; with all three, theme-language and
    theme-region (which imply the third); with fewer, none. A theme is rarer than a language or a
    region, so the pairs holding it are the shorter lists."""
    pairs = []
    if theme and language:
        pairs.append(f"tl:{theme}:{language}")
    if theme and region:
        pairs.append(f"tr:{theme}:{region}")
    if language and region and not theme:
        pairs.append(f"lr:{language}:{region}")
    return pairs


def _hits(names: frozenset[str], anonymous: bool) -> tuple[Select[Any], ColumnElement[Any] | None]:
    """The expert search with the filters ``names`` (of :func:`_values`, and ``organisation_id``), as
    a statement with bind parameters (``org``: the caller's organisation), and its rank."""

    conditions: list[ColumnElement[bool]] = [
        visible_to_caller(Expert, anonymous),
        Expert.deleted_at.is_(None),
    ]
    if "pairs" in names:
        conditions.append(Expert.term_pairs.contains(search.terms_param("pairs")))
    if "theme" in names:
        conditions.append(Expert.themes.contains(search.terms_param("theme")))
    if "service_types" in names:
        conditions.append(Expert.service_types.overlap(search.terms_param("service_types")))
    if "language" in names:
        conditions.append(Expert.language_codes.contains(search.terms_param("language")))
    if "country" in names:
        conditions.append(
            Expert.experience.contains(search.terms_param("country"))
            | Expert.nationalities.contains(search.terms_param("country"))
        )
    if "region" in names:
        conditions.append(Expert.regions.contains(search.terms_param("region")))
    if "seniority" in names:
        conditions.append(Expert.seniority == bindparam("seniority", type_=String))
    if "available_from" in names:
        period = func.daterange(
            bindparam("available_from", type_=Date),
            bindparam("available_to", type_=Date),
            "[]",
            type_=DATERANGE,
        )
        conditions.append(Expert.available.op("@>")(period))
    if "organisation_id" in names:
        conditions.append(Expert.organisation_id == bindparam("organisation_id", type_=Uuid))
    rank = None
    if "q" in names:
        either = search.text_query(search.query_param())
        conditions.append(Expert.search.bool_op("@@")(either))
        rank = func.ts_rank(Expert.search, either)
    hits = select(
        Expert.id.label("key"),
        Expert.themes,
        Expert.service_types,
        Expert.language_codes.label("languages"),
        Expert.regions,
        Expert.organisation_id,
    ).where(*conditions)
    return hits, rank


async def search_experts(
    session: AsyncSession,
    principal: Principal | None,
    filters: ExpertFilter,
    *,
    limit: int,
    cursor: str | None,
) -> schemas.ExpertPage:
    with Errors() as errors:
        values = errors.check(_values, filters) or {}
        with errors.collect():
            if org_id := await search.organisation_id(session, filters.organisation):
                values["organisation_id"] = org_id
    found = await search.find(
        session, principal, _hits, shape="experts", values=values, cursor=cursor, limit=limit
    )
    experts = await search.records(session, Expert, found, principal)
    return schemas.ExpertPage(
        items=await _schemas(session, experts, principal.org_id if principal else None),
        next_cursor=found.next_cursor,
        total=found.total,
        facets=found.facets,
    )


async def get_expert(session: AsyncSession, principal: Principal | None, expert_id: UUID) -> Expert:
    expert = await session.scalar(
        select(Expert).where(Expert.id == expert_id, Expert.deleted_at.is_(None), visible(Expert, principal))
    )
    if expert is None:
        raise NotFound(f"no expert {expert_id}")
    return expert


async def _owned(session: AsyncSession, principal: Principal, expert_id: UUID) -> Expert:
    expert = await get_expert(session, principal, expert_id)
    await lock_for_owner(session, principal, expert, "expert")
    return expert


# --- writing -------------------------------------------------------------------------------


async def _set_contact(session: AsyncSession, expert: Expert, contact: schemas.Contact | None) -> None:
    existing = await session.get(ExpertContact, expert.id)
    if contact is None or (contact.email is None and contact.phone is None):
        if existing is not None:
            await session.delete(existing)
        return
    if existing is None:
        session.add(ExpertContact(expert_id=expert.id, organisation_id=expert.organisation_id))
        existing = await session.get(ExpertContact, expert.id)
    assert existing is not None
    existing.email, existing.phone = contact.email, contact.phone


async def create_expert(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ExpertCreate,
    *,
    origin: str,
    idempotency_key: str | None = None,
) -> schemas.Expert | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "expert.create",
        data,
        lambda: _create_expert(session, principal, data, origin),
    )


async def _create_expert(
    session: AsyncSession, principal: Principal, data: schemas.ExpertCreate, origin: str
) -> schemas.Expert:
    with Errors() as errors:
        changes = validated_changes(data, errors)
        with errors.collect():
            check_consent(data.sharing, data.consent, has_contact(data.contact))
        with errors.collect():
            changes["share_with"] = await resolve_share_with(session, data.sharing, data.share_with)
    await _check_external_id(session, principal, data.external_id, None)
    (expert,) = await add_experts(session, principal, [(data, changes)], origin)
    await session.refresh(expert)
    return await expert_schema(session, expert, principal)


async def add_experts(
    session: AsyncSession,
    principal: Principal,
    new: Sequence[tuple[schemas.ExpertCreate, dict[str, Any]]],
    origin: str,
) -> list[Expert]:
    """Write new experts, each from ``data`` and its :func:`validated_changes` with ``share_with``
    resolved to organisation ids, all checked and their external_ids free: one batched INSERT for
    the experts and one for their contact details, however many, then an audit entry each."""
    experts, contacts = [], []
    for _, changes in new:
        contacts.append(changes.pop("contact", None))
        expert = Expert(organisation_id=principal.org_id, origin=origin, **changes)
        expert.available = changes.get("available", [])
        experts.append(expert)
    session.add_all(experts)
    await _flush(session, [data.external_id for data, _ in new])
    session.add_all(
        ExpertContact(
            expert_id=expert.id,
            organisation_id=expert.organisation_id,
            email=contact.email,
            phone=contact.phone,
        )
        for expert, contact in zip(experts, contacts, strict=True)
        if contact is not None and has_contact(contact)
    )
    await session.flush()
    for expert, (data, _) in zip(experts, new, strict=True):
        await record_action(session, principal, "expert.create", "expert", expert.id, data)
    return experts


async def update_expert(
    session: AsyncSession,
    principal: Principal,
    expert_id: UUID,
    data: schemas.ExpertUpdate,
    if_match: str | None,
) -> schemas.Expert:
    expert = await _owned(session, principal, expert_id)
    check_version(if_match, expert.version)
    with Errors() as errors:
        changes = validated_changes(data, errors)
        if {"sharing", "consent", "contact"} & changes.keys():
            contact = (
                has_contact(changes["contact"])
                if "contact" in changes
                else await session.get(ExpertContact, expert.id) is not None
            )
            with errors.collect():
                check_consent(
                    changes.get("sharing", expert.sharing), changes.get("consent", expert.consent), contact
                )
        with errors.collect():
            await resolve_sharing(session, expert, changes)
    return await change_expert(session, principal, expert, data, changes)


async def change_expert(
    session: AsyncSession,
    principal: Principal,
    expert: Expert,
    data: schemas.ExpertUpdate,
    changes: dict[str, Any],
) -> schemas.Expert:
    """Write ``data`` and its :func:`validated_changes`, checked, to an expert its owner has locked."""
    if "external_id" in changes:
        await _check_external_id(session, principal, changes["external_id"], expert.id)
        expert.external_id = changes.pop("external_id")
        await _flush(session, [expert.external_id])
    if "contact" in changes:
        await _set_contact(session, expert, changes.pop("contact"))
    await apply_changes(session, expert, changes, None)  # If-Match was checked before the contact changed
    await record_action(session, principal, "expert.update", "expert", expert.id, data)
    return await expert_schema(session, expert, principal)


async def erase_expert(
    session: AsyncSession, principal: Principal, expert_id: UUID, if_match: str | None
) -> None:
    """Erase the personal data; the tombstone keeps the id (and nothing else) for references."""
    expert = await _owned(session, principal, expert_id)
    check_version(if_match, expert.version)
    await _set_contact(session, expert, None)
    await session.flush()  # the contact goes first: once the expert is erased it is no longer visible
    for field, value in {
        "name": TOMBSTONE,
        "external_id": None,
        "bio": "",
        "seniority": None,
        "expertise": [],
        "themes": [],
        "service_types": [],
        "languages": [],
        "language_codes": [],
        "nationalities": [],
        "experience": [],
        "regions": [],
        "availability": [],
        "available": [],
        "affiliations": [],
        "past_processes": [],
        "consent": None,
        "deleted_at": datetime.now(UTC),
    }.items():
        setattr(expert, field, value)
    expert.version += 1
    await session.flush()
    await record_action(session, principal, "expert.erase", "expert", expert_id)


async def read_contact(session: AsyncSession, principal: Principal, expert_id: UUID) -> schemas.ExpertContact:
    """An expert's contact details; the read is recorded (personal data) in the reader's log and, for
    another organisation's expert, in the owner's as a disclosure: who read, when, which expert (the
    scope it takes is ``roster:contact``), and nothing else of the reader's request.

    An expert held from a peer node has no contact details here (they never leave its home):
    :class:`HeldElsewhere` (409) names that node, which the API asks on the reader's behalf
    (``msnet.federation.contact``)."""
    expert = await get_expert(session, principal, expert_id)
    if (home := await home_node(session, expert)) is not None:
        raise HeldElsewhere(
            f"the contact details of expert {expert_id} stay on its home node, {home}: ask that node",
            home_node=home,
        )
    contact = await session.get(ExpertContact, expert.id)
    await record_action(session, principal, "expert.contact.read", "expert", expert_id)
    if expert.organisation_id != principal.org_id:
        await record(
            session,
            AuditEvent(
                organisation_id=expert.organisation_id,
                actor=principal.actor,
                action="expert.contact.disclosed",
                resource_type="expert",
                resource_id=str(expert_id),
                outcome="success",
            ),
        )
    return schemas.ExpertContact(
        expert_id=expert.id,
        email=contact.email if contact else None,
        phone=contact.phone if contact else None,
    )
