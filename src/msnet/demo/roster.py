"""The demo roster (about 200 experts), generated from the pools of ``roster.json`` and ``pools.json``
with a fixed seed, so every run makes the same people; created once, by name within an organisation.
Each has an external_id as an HR system would give it (``AU-R0001``…), and the consent that sharing
contact details with the network or the public needs."""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

import msgspec.structs
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.demo import base, specs
from msnet.organisations.models import Organisation
from msnet.roster import schemas
from msnet.roster import service as roster_service
from msnet.roster.models import Expert
from msnet.settings import Settings
from msnet.sharing import Sharing
from msnet.taxonomy import service as taxonomy

T = TypeVar("T")


@dataclass(frozen=True)
class DemoExpert:
    organisation: str
    create: schemas.ExpertCreate


def _front_weighted(rng: random.Random, items: Sequence[T], k: int) -> list[T]:
    """``k`` distinct items, the earlier ones likelier (weighted sampling without replacement)."""
    keyed = sorted(range(len(items)), key=lambda i: rng.random() ** (1 / (len(items) - i)), reverse=True)
    return [items[i] for i in sorted(keyed[:k])]


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in plain.lower()).strip("-")


@functools.cache
def _labels() -> dict[str, str]:
    whole = taxonomy.taxonomy()
    labels = {t.id: t.label.en for t in (*whole.themes, *whole.service_types, *whole.countries)}
    labels |= {f"lang:{t.id}": t.label.en for t in whole.languages}
    return labels


def _country_name(code: str) -> str:
    return specs.roster().country_names.get(code) or _labels()[code]


def _language_name(code: str) -> str:
    return specs.roster().language_names.get(code) or _labels()[f"lang:{code}"]


def _name(rng: random.Random, group: specs.NameGroup, female: bool, taken: set[str]) -> str:
    while True:
        given = rng.choice(group.female if female else group.male)
        families = [
            f if isinstance(f, str) else f[1] if female else f[0]
            for f in rng.sample(group.family, 2 if group.two_family_names else 1)
        ]
        name = " ".join((given, *families))
        famous = {name, f"{given} {families[0]}"} & specs.roster().blocked_names
        if name not in taken and not famous and given not in families:
            taken.add(name)
            return name


def _languages(
    rng: random.Random, nationality: str, group: specs.NameGroup, pool: specs.RegionPool
) -> list[schemas.LanguageSkill]:
    roster = specs.roster()
    home = group.home_languages or roster.country_languages[nationality]
    wanted = rng.choices((1, 2, 3, 4), weights=(1, 6, 8, 4))[0]
    if home[0] not in roster.world_languages:
        wanted = max(wanted, 2)  # someone deployable speaks a language of the mediation too
    codes = [home[0]]
    if len(home) > 1 and wanted > 1:
        codes.append(home[1])  # the country's other official or common language
    francas = group.lingua_francas or pool.lingua_francas
    rest = [c for c in dict.fromkeys((*home[1:], *francas)) if c not in codes]
    codes += _front_weighted(rng, rest, min(wanted - len(codes), len(rest)))
    skills = [schemas.LanguageSkill(code=codes[0], read="native", speak="native", write="native")]
    for position, code in enumerate(codes[1:]):
        best = 2 if position == 0 and code in home[1:2] else rng.choice((1, 1, 2, 2, 0))
        write = max(0, best - (rng.random() < 0.4))
        read = max(write, best - (rng.random() < 0.2))
        levels = roster.proficiency
        skills.append(
            schemas.LanguageSkill(code=code, read=levels[read], speak=levels[best], write=levels[write])
        )
    return skills


def _windows(rng: random.Random) -> list[schemas.Window]:
    """One to three windows in 2026–2027, none overlapping another."""
    months = sorted(rng.sample(range(24), rng.choices((1, 2, 3), weights=(3, 4, 3))[0]))
    starts = [date(2026 + m // 12, m % 12 + 1, rng.choice((1, 1, 8, 15))) for m in months]
    windows = []
    for i, start in enumerate(starts):
        limit = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else specs.roster().last_day
        end = min(start + timedelta(days=rng.randint(20, 120)), limit)
        mode = rng.random()  # mostly either way; some remote only, some in person only
        windows.append(
            schemas.Window(start=start, end=end, remote=mode >= 0.12, in_person=not 0.12 <= mode < 0.22)
        )
    return windows


def _expert(rng: random.Random, slug: str, taken: set[str]) -> schemas.ExpertCreate:
    roster = specs.roster()
    weights = roster.rosters[slug].pools
    pool = specs.pools()[rng.choices(list(weights), weights=list(weights.values()))[0]]
    members = None if slug in roster.open_rosters else taxonomy.countries_in(slug)
    groups = [
        (group, [c for c in group.countries if members is None or c in members]) for group in pool.groups
    ]
    group, countries = rng.choice([(g, cs) for g, cs in groups if cs])
    nationality = rng.choice(countries)
    female = rng.random() < 0.5
    name = _name(rng, group, female, taken)
    seniority = rng.choices(list(roster.seniority), weights=[s.weight for s in roster.seniority.values()])[0]
    level = roster.seniority[seniority]

    size = rng.choice((1, 2, 2, 3, 3, 4))
    services = rng.sample(
        roster.service_types, 0 if size == 1 else rng.choice((0, 1, 1) if size < 4 else (1, 2))
    )
    themes = _front_weighted(rng, pool.themes, size - len(services))
    expertise = [schemas.Expertise(kind="theme", term=t, level=rng.choice(level.levels)) for t in themes] + [
        schemas.Expertise(kind="service_type", term=s, level=rng.choice(level.levels)) for s in services
    ]
    languages = _languages(rng, nationality, group, pool)

    places = [p for p in pool.experience if len(p) == 2 and p != nationality]
    regions = [p for p in pool.experience if len(p) != 2]
    experience = [nationality, *rng.sample(places, rng.randint(1, 3)), rng.choice(regions)]

    affiliations = rng.sample(pool.affiliations, 1 if seniority == "junior" else rng.randint(1, 2))
    if seniority in ("senior", "eminent") or rng.random() < 0.3:
        affiliations.append(rng.choice(roster.former_posts))
    past = rng.sample(pool.past_processes, rng.randint(*level.past_processes))

    years = rng.randint(*level.years)
    bio = (
        f"{level.title} from {_country_name(nationality)} with {years} years of experience in "
        f"{_and([_lower_first(_labels()[t]) for t in themes])}."
        + (f" Offers {_and([_lower_first(_labels()[s]) for s in services])}." if services else "")
        + f" Works in {_and([_language_name(s.code) for s in languages])}."
    )
    draw = rng.random()
    sharing: Sharing = "private" if draw < 0.06 else "public" if draw < 0.12 else "network"
    org = next(o for o in specs.organisations() if o.slug == slug)
    given_on = roster.consent_from + timedelta(days=rng.randint(0, 880))
    local = ".".join(_ascii(part) for part in name.split(" ", 1))
    return schemas.ExpertCreate(
        name=name,
        bio=bio,
        seniority=seniority,
        expertise=expertise,
        languages=languages,
        nationalities=[nationality],
        experience=experience,
        availability=_windows(rng),
        affiliations=affiliations,
        past_processes=past,
        consent=schemas.Consent(
            given_on=given_on,
            purpose=f"Listed on the {org.acronym} roster and shared "
            + ("within the organisation only" if sharing == "private" else f"at the '{sharing}' level"),
            recorded_by=f"{org.acronym} {specs.offices()[slug][0].name}",
        ),
        contact=schemas.Contact(
            email=f"{local}@{rng.choice(('example.org', 'example.net'))}",
            phone=f"+000 {rng.randint(100, 999)} {rng.randint(0, 9_999_999):07d}",
        ),
        sharing=sharing,
    )


@functools.cache
def demo_experts() -> tuple[DemoExpert, ...]:
    """The demo roster: the same experts, in the same order, on every call and in every process."""
    rng = random.Random(specs.roster().seed)
    taken: set[str] = set()
    rosters = specs.roster().rosters
    return tuple(
        DemoExpert(
            slug, msgspec.structs.replace(_expert(rng, slug, taken), external_id=f"{slug.upper()}-R{n:04d}")
        )
        for slug in sorted(rosters)
        for n in range(1, rosters[slug].experts + 1)
    )


async def ensure(session: AsyncSession, settings: Settings, org: Organisation, counts: base.Counts) -> None:
    principal = base.principal(org)
    owned = Expert.organisation_id == org.id, Expert.deleted_at.is_(None)
    existing = set(await session.scalars(select(Expert.name).where(*owned)))
    for demo_expert in demo_experts():
        if demo_expert.organisation != org.slug or demo_expert.create.name in existing:
            continue
        await roster_service.create_expert(session, principal, demo_expert.create, origin=settings.issuer)
        counts.new_experts += 1
    counts.experts += await base.count(session, *owned)
