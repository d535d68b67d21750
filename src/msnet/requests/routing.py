"""Routing: rank offices (through their capacities) and roster experts against a request, and say why.

Each candidate's score is the sum of points on named dimensions; each dimension gives a reason in
words a person can check. Experts whose nationality or affiliations tie them to the process or a
party to the conflict are flagged beside their score, never silently re-ranked or dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Date, Integer, Select, Text, Uuid, all_, any_, bindparam, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, DATERANGE
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, load_only

from msnet.auth.principal import Principal
from msnet.directory.models import Capacity, Office
from msnet.directory.service import STALE_AFTER
from msnet.processes.models import Process
from msnet.requests import schemas
from msnet.requests.models import SupportRequest
from msnet.roster.models import Expert
from msnet.sharing import slugs_of, visible_to
from msnet.taxonomy import service as taxonomy

# Points per dimension; a perfect candidate scores 100.
SERVICE, THEMES, COVERAGE, LANGUAGE, TIMING, LOAD, FRESHNESS = 30, 20, 15, 10, 10, 10, 5
EXPERT_AVAILABILITY = 15
# How soon an office must be able to start, by urgency, at the latest (days).
URGENCY_DAYS = {"routine": None, "urgent": 14, "asap": 3}
TOP = 20
# The best coarse score of an expert matching a requested service type or a theme but not both.
EITHER_MAX = max(SERVICE, THEMES) + COVERAGE * 1.5 + LANGUAGE + EXPERT_AVAILABILITY
AUTO_ROUTE = 3  # offices a "route to the best matches" request goes to
AUTO_ROUTE_MIN_SCORE = 50.0


@dataclass(frozen=True)
class Wanted:
    """What a request asks for, spelled out for matching."""

    service_types: frozenset[str]  # with their narrower kinds
    themes: frozenset[str]
    countries: frozenset[str]
    regions: frozenset[str]
    languages: frozenset[str]
    start: date
    end: date
    urgency: str
    conflict_parties: tuple[str, ...]
    exclude_own_organisation: bool  # the requester's own offices and experts are left out


def _wanted(request: SupportRequest, process: Process | None) -> Wanted:
    services = set(request.service_types)
    for term in request.service_types:
        services.update(taxonomy.children_of(term))
    return Wanted(
        service_types=frozenset(services),
        themes=frozenset(request.themes),
        countries=frozenset(process.countries if process else ()),
        regions=frozenset(process.regions if process else ()),
        languages=frozenset(request.languages),
        start=request.period_start,
        end=request.period_end,
        urgency=request.urgency,
        conflict_parties=tuple(process.conflict_parties if process else ()),
        exclude_own_organisation=request.exclude_own_organisation,
    )


def _listed(terms: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(terms))


def _share(reasons: list[schemas.Reason], dimension: str, points: float, text_: str) -> None:
    reasons.append(schemas.Reason(dimension=dimension, points=round(points, 1), text=text_))


def _themes(reasons: list[schemas.Reason], wanted: Wanted, themes: set[str]) -> None:
    if not wanted.themes:
        _share(reasons, "themes", THEMES, "the request names no theme")
        return
    common = wanted.themes & themes
    if common:
        _share(
            reasons,
            "themes",
            THEMES * len(common) / len(wanted.themes),
            f"covers {len(common)} of {len(wanted.themes)} requested themes: {_listed(common)}",
        )
    else:
        _share(reasons, "themes", 0, f"covers none of the requested themes ({_listed(wanted.themes)})")


def _languages(reasons: list[schemas.Reason], wanted: Wanted, languages: set[str]) -> None:
    if not wanted.languages:
        _share(reasons, "language", LANGUAGE, "the request names no language")
        return
    common = wanted.languages & languages
    if common:
        _share(
            reasons, "language", LANGUAGE * len(common) / len(wanted.languages), f"works in {_listed(common)}"
        )
    else:
        _share(reasons, "language", 0, f"works in none of {_listed(wanted.languages)}")


def _coverage(reasons: list[schemas.Reason], wanted: Wanted, countries: set[str], regions: set[str]) -> None:
    if wanted.countries & countries:
        _share(reasons, "coverage", COVERAGE, f"covers {_listed(wanted.countries & countries)}")
    elif wanted.regions & regions:
        _share(reasons, "coverage", COVERAGE / 2, f"covers the region {_listed(wanted.regions & regions)}")
    else:
        where = _listed(wanted.countries or wanted.regions) or "the process's area"
        _share(reasons, "coverage", 0, f"does not cover {where}")


def _notice(wanted: Wanted, today: date) -> int:
    """How many days' notice an office gets: until the start, and no more than the urgency allows."""
    days = (wanted.start - today).days
    limit = URGENCY_DAYS[wanted.urgency]
    return days if limit is None else min(days, limit)


def _office_reasons(
    wanted: Wanted, capacity: Capacity, active: int, today: date, now: datetime
) -> list[schemas.Reason]:
    reasons: list[schemas.Reason] = []
    if capacity.service_type in wanted.service_types:
        _share(reasons, "service_type", SERVICE, f"offers {capacity.service_type}, as requested")
    else:
        _share(reasons, "service_type", 0, f"offers {capacity.service_type}, not a requested service")
    _themes(reasons, wanted, set(capacity.themes))
    _coverage(reasons, wanted, set(capacity.countries), set(capacity.regions))
    _languages(reasons, wanted, set(capacity.languages))
    window = _notice(wanted, today)
    fits = capacity.lead_time_days <= window
    _share(
        reasons,
        "timing",
        TIMING if fits else 0,
        f"needs {capacity.lead_time_days} days' notice; "
        f"the request can wait {'' if fits else 'only '}{max(window, 0)} days",
    )
    free = capacity.concurrent_engagements - active
    if free > 0:
        _share(
            reasons,
            "load",
            LOAD * free / capacity.concurrent_engagements,
            f"{free} of {capacity.concurrent_engagements} engagements free",
        )
    else:
        _share(
            reasons,
            "load",
            0,
            f"at capacity ({active} of {capacity.concurrent_engagements} engagements taken)",
        )
    age = (now - capacity.last_confirmed_at).days
    if now - capacity.last_confirmed_at <= STALE_AFTER:
        _share(reasons, "freshness", FRESHNESS, f"confirmed {age} days ago")
    else:
        _share(reasons, "freshness", 0, f"not confirmed for {age} days (stale)")
    return reasons


def _expert_reasons(wanted: Wanted, expert: Expert) -> list[schemas.Reason]:
    reasons: list[schemas.Reason] = []
    services = wanted.service_types & set(expert.service_types)
    if services:
        _share(reasons, "service_type", SERVICE, f"expertise in {_listed(services)}")
    else:
        _share(reasons, "service_type", 0, "no expertise in a requested service")
    _themes(reasons, wanted, set(expert.themes))
    _coverage(reasons, wanted, set(expert.experience), set(expert.regions))
    _languages(reasons, wanted, set(expert.language_codes))
    period = f"{wanted.start.isoformat()} to {wanted.end.isoformat()}"
    windows = [(date.fromisoformat(w["start"]), date.fromisoformat(w["end"])) for w in expert.availability]
    if any(s <= wanted.start and wanted.end <= e for s, e in windows):
        _share(reasons, "availability", EXPERT_AVAILABILITY, f"available for the whole period ({period})")
    elif any(s <= wanted.end and wanted.start <= e for s, e in windows):
        _share(reasons, "availability", EXPERT_AVAILABILITY / 2, f"available for part of {period}")
    else:
        _share(reasons, "availability", 0, f"not available {period}")
    return reasons


def conflicts_of_interest(wanted: Wanted, expert: Expert) -> list[str]:
    """Ties to the process a person can check: nationality of a country of the process, an
    affiliation naming a party to the conflict (either contains the other, ignoring case)."""
    found = [
        f"national of {country}, a country of the process"
        for country in sorted(wanted.countries & set(expert.nationalities))
    ]
    for affiliation in expert.affiliations:
        for party in wanted.conflict_parties:
            a, p = affiliation.casefold(), party.casefold()
            if a in p or p in a:
                found.append(f"affiliated with {affiliation!r}, tied to the conflict party {party!r}")
    return found


async def office_load(session: AsyncSession, office_ids: list[UUID]) -> dict[UUID, int]:
    """Active engagements per office (accepted offers on accepted or in-progress requests), counted
    across organisations by a database function that returns only the counts."""
    if not office_ids:
        return {}
    rows = await session.execute(
        text("SELECT office_id, active FROM msnet_office_load(:ids)"), {"ids": office_ids}
    )
    return {office_id: active for office_id, active in rows}


class _Statements(NamedTuple):
    offices: Select[Any]
    experts_with_both: Select[Any]
    experts_with_either: Select[Any]
    experts: Select[Any]  # the best ones, with just what scoring and the answer read


@functools.cache
def _statements() -> _Statements:
    """The ranking statements, built once with bind parameters (see :func:`_parameters`): building
    them afresh for every request cost more than the database took to run them."""
    org = bindparam("org", type_=Uuid)
    excluded_org = bindparam("excluded_org", type_=Uuid)  # NULL: none
    services, themes, countries, regions, languages = (
        bindparam(name, type_=ARRAY(Text))
        for name in ("services", "themes", "countries", "regions", "languages")
    )

    def has(column: Any, terms: Any) -> Any:
        return cast(column.overlap(terms), Integer)

    # Offices: by their best capacity's coarse score (every dimension but the load, whole points).
    offers = Capacity.service_type == any_(services)
    coarse = (
        SERVICE * cast(offers, Integer)
        + THEMES * has(Capacity.themes, themes)
        + COVERAGE * has(Capacity.countries, countries)
        + COVERAGE / 2 * has(Capacity.regions, regions)
        + LANGUAGE * has(Capacity.languages, languages)
        + TIMING * cast(Capacity.lead_time_days <= bindparam("notice", type_=Integer), Integer)
        + FRESHNESS * cast(Capacity.last_confirmed_at >= func.now() - STALE_AFTER, Integer)
    )
    # One scan: each candidate capacity with its office's best coarse score, the offices placed by it.
    scored = (
        select(Capacity, func.max(coarse).over(partition_by=Capacity.office_id).label("best"))
        .where(
            visible_to(Capacity, org),
            or_(offers, Capacity.themes.overlap(themes)),
            Capacity.office_id != all_(bindparam("exclude", type_=ARRAY(Uuid))),
            Capacity.organisation_id.is_distinct_from(excluded_org),
        )
        .subquery()
    )
    placed = select(
        scored, func.dense_rank().over(order_by=(scored.c.best.desc(), scored.c.office_id)).label("place")
    ).subquery()
    placed_capacity = aliased(Capacity, placed)
    offices = (
        select(placed_capacity, Office.name)
        .join(Office, Office.id == placed_capacity.office_id)
        .where(placed.c.place <= TOP * 3, visible_to(Office, org))  # the load may still reorder them
    )

    # Experts: by a coarse score of the same dimensions, whole points.
    period = func.daterange(
        bindparam("start", type_=Date), bindparam("end", type_=Date), "[]", type_=DATERANGE
    )
    expert_coarse = (
        SERVICE * has(Expert.service_types, services)
        + THEMES * has(Expert.themes, themes)
        + COVERAGE * has(Expert.experience, countries)
        + COVERAGE / 2 * has(Expert.regions, regions)
        + LANGUAGE * has(Expert.language_codes, languages)
        + EXPERT_AVAILABILITY * cast(Expert.available.op("@>")(period), Integer)
    )
    service, theme = Expert.service_types.overlap(services), Expert.themes.overlap(themes)

    def best(*where: Any) -> Select[Any]:
        return (
            select(Expert.id, expert_coarse)
            .where(
                visible_to(Expert, org),
                Expert.organisation_id.is_distinct_from(excluded_org),
                Expert.deleted_at.is_(None),
                *where,
            )
            .order_by(expert_coarse.desc(), Expert.id)
            .limit(TOP * 2)
        )

    experts = (
        select(Expert)
        .options(
            load_only(
                Expert.organisation_id,
                Expert.name,
                Expert.service_types,
                Expert.themes,
                Expert.experience,
                Expert.regions,
                Expert.language_codes,
                Expert.availability,
                Expert.nationalities,
                Expert.affiliations,
            )
        )
        .where(Expert.id == any_(bindparam("ids", type_=ARRAY(Uuid))))
    )
    return _Statements(offices, best(service, theme), best(or_(service, theme)), experts)


def _parameters(principal: Principal, wanted: Wanted, exclude: set[UUID]) -> dict[str, Any]:
    return {
        "org": principal.org_id,
        "excluded_org": principal.org_id if wanted.exclude_own_organisation else None,
        "services": sorted(wanted.service_types),
        "themes": sorted(wanted.themes),
        "countries": sorted(wanted.countries),
        "regions": sorted(wanted.regions),
        "languages": sorted(wanted.languages),
        "notice": _notice(wanted, datetime.now(UTC).date()),
        "start": wanted.start,
        "end": wanted.end,
        "exclude": sorted(exclude),
    }


async def match_offices(
    session: AsyncSession,
    principal: Principal,
    wanted: Wanted,
    *,
    exclude: set[UUID],
) -> list[schemas.OfficeMatch]:
    """The database ranks offices by their best capacity's coarse score and returns the best few;
    their capacities are then scored exactly here."""
    rows = (await session.execute(_statements().offices, _parameters(principal, wanted, exclude))).all()
    load = await office_load(session, sorted({c.office_id for c, _ in rows}))
    today, now = datetime.now(UTC).date(), datetime.now(UTC)
    best: dict[UUID, tuple[float, Capacity, str, list[schemas.Reason]]] = {}
    for capacity, name in rows:
        reasons = _office_reasons(wanted, capacity, load.get(capacity.office_id, 0), today, now)
        score = round(sum(r.points for r in reasons), 1)
        if capacity.office_id not in best or score > best[capacity.office_id][0]:
            best[capacity.office_id] = (score, capacity, name, reasons)
    ranked = sorted(best.values(), key=lambda b: (-b[0], b[1].office_id))[:TOP]
    slugs = await slugs_of(session, list({c.organisation_id for _, c, _, _ in ranked}))
    return [
        schemas.OfficeMatch(
            office_id=c.office_id,
            office=name,
            organisation=slugs[c.organisation_id],
            capacity_id=c.id,
            score=score,
            reasons=reasons,
            own_organisation=c.organisation_id == principal.org_id,
        )
        for score, c, name, reasons in ranked
    ]


async def match_experts(
    session: AsyncSession, principal: Principal, wanted: Wanted
) -> list[schemas.ExpertMatch]:
    """The database ranks by a coarse score and returns the best few; their exact scores and
    reasons are worked out here."""
    statements, parameters = _statements(), _parameters(principal, wanted, set())

    async def best(statement: Select[Any]) -> list[tuple[UUID, float]]:
        return [
            (expert_id, float(score)) for expert_id, score in await session.execute(statement, parameters)
        ]

    # First those with a requested service type and theme (the index narrows them fast); only if too
    # few of them beat what an expert with just one of the two could reach, everyone with either.
    found = await best(statements.experts_with_both) if wanted.themes else []
    if len(found) < TOP * 2 or found[-1][1] < EITHER_MAX:
        found = await best(statements.experts_with_either)
    ids = [expert_id for expert_id, _ in found]
    experts = list(await session.scalars(statements.experts, {"ids": ids}))
    slugs = await slugs_of(session, list({e.organisation_id for e in experts}))
    matches = []
    for expert in experts:
        reasons = _expert_reasons(wanted, expert)
        matches.append(
            schemas.ExpertMatch(
                expert_id=expert.id,
                name=expert.name,
                organisation=slugs[expert.organisation_id],
                score=round(sum(r.points for r in reasons), 1),
                reasons=reasons,
                conflicts_of_interest=conflicts_of_interest(wanted, expert),
            )
        )
    return sorted(matches, key=lambda m: (-m.score, m.expert_id))[:TOP]


async def matches(
    session: AsyncSession, principal: Principal, request: SupportRequest, process: Process | None
) -> schemas.Matches:
    wanted = _wanted(request, process)
    return schemas.Matches(
        request_id=request.id,
        offices=await match_offices(session, principal, wanted, exclude={request.office_id}),
        experts=await match_experts(session, principal, wanted),
    )


async def best_offices(
    session: AsyncSession, principal: Principal, request: SupportRequest, process: Process | None
) -> list[schemas.OfficeMatch]:
    """The offices a "route to the best matches" request goes to."""
    found = await match_offices(session, principal, _wanted(request, process), exclude={request.office_id})
    return [m for m in found if m.score >= AUTO_ROUTE_MIN_SCORE][:AUTO_ROUTE]
