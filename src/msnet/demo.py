"""The demo network: the ten organisations of the 2018 UN–EU technical expert workshop (Nairobi),
loaded idempotently; each capability adds its part.

Offices and capacities come from ``msnet.demo_data``; the roster (about 200 experts) is generated from
its pools with a fixed seed, so every run makes the same people. Records are keyed by office name and
expert name within an organisation: a second run creates nothing new.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import demo_data as data
from msnet.audit.service import AuditEvent, record
from msnet.auth import schemas as auth_schemas
from msnet.auth import service as auth
from msnet.auth.models import OAuthClient
from msnet.auth.principal import SCOPES, Principal
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.directory import schemas, service
from msnet.directory.models import Capacity, Office
from msnet.organisations import schemas as organisation_schemas
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.processes import schemas as process_schemas
from msnet.processes import service as processes
from msnet.processes.models import Process
from msnet.requests import schemas as request_schemas
from msnet.requests import service as requests
from msnet.requests.models import SupportRequest
from msnet.roster import schemas as roster_schemas
from msnet.roster import service as roster
from msnet.roster.models import Expert
from msnet.settings import Settings
from msnet.sharing import Sharing
from msnet.taxonomy import service as taxonomy
from msnet.training import demo as training_demo

ORGANISATIONS = [
    organisation_schemas.OrganisationCreate(
        slug="au", name="African Union", acronym="AU", kind="regional", identifiers=["XI-WIKIDATA-Q7159"]
    ),
    organisation_schemas.OrganisationCreate(
        slug="commonwealth",
        name="The Commonwealth",
        acronym="Commonwealth",
        kind="interregional",
        identifiers=["XI-WIKIDATA-Q7785"],
    ),
    organisation_schemas.OrganisationCreate(slug="eac", name="East African Community", acronym="EAC", kind="subregional"),
    organisation_schemas.OrganisationCreate(
        slug="eccas", name="Economic Community of Central African States", acronym="ECCAS", kind="subregional"
    ),
    organisation_schemas.OrganisationCreate(
        slug="eu", name="European Union", acronym="EU", kind="regional", identifiers=["XI-WIKIDATA-Q458"]
    ),
    organisation_schemas.OrganisationCreate(
        slug="igad", name="Intergovernmental Authority on Development", acronym="IGAD", kind="subregional"
    ),
    organisation_schemas.OrganisationCreate(
        slug="oas",
        name="Organization of American States",
        acronym="OAS",
        kind="regional",
        identifiers=["XI-WIKIDATA-Q123759"],
    ),
    organisation_schemas.OrganisationCreate(
        slug="oic", name="Organisation of Islamic Cooperation", acronym="OIC", kind="interregional"
    ),
    organisation_schemas.OrganisationCreate(
        slug="osce",
        name="Organization for Security and Co-operation in Europe",
        acronym="OSCE",
        kind="regional",
        identifiers=["XI-WIKIDATA-Q81299"],
    ),
    organisation_schemas.OrganisationCreate(
        slug="un", name="United Nations", acronym="UN", kind="global", identifiers=["XI-WIKIDATA-Q1065"]
    ),
]


DEMO_CLIENT = "demo integration"
#: One of the searches printed: experts on transhumance free for the first half of May 2027.
AVAILABLE_FOR_TRANSHUMANCE = {
    "q": "transhumance",
    "available_from": "2027-05-01",
    "available_to": "2027-05-14",
}
SHOWN = "un"  # whose credentials the demo prints


async def _ensure_clients(session: AsyncSession, settings: Settings) -> auth_schemas.ClientCreated:
    """One client with every scope per organisation; the shown one gets a fresh secret each run
    (secrets are stored only as hashes, so this is the only way to print a working one)."""
    shown = None
    for slug in sorted(o.slug for o in ORGANISATIONS):
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        client_id = await session.scalar(
            select(OAuthClient.client_id).where(
                OAuthClient.organisation_id == org.id, OAuthClient.name == DEMO_CLIENT
            )
        )
        if client_id is None:
            created = await auth.create_client(
                session,
                org,
                auth_schemas.ClientCreate(name=DEMO_CLIENT, scopes=list(SCOPES)),
                secret_key=settings.secret_key,  # type: ignore[arg-type]
                created_by="operator",
            )
            client_id = created.client_id
            await record(session, _operator_event(org.id, "client.create", "client", client_id))
        if slug == SHOWN:
            shown = await auth.rotate_secret(session, org, client_id, secret_key=settings.secret_key)  # type: ignore[arg-type]
            await record(session, _operator_event(org.id, "client.rotate_secret", "client", client_id))
    assert shown is not None
    return shown


def _operator_event(
    org_id: object, action: str, resource_type: str, resource_id: str, payload: Any = None
) -> AuditEvent:
    return AuditEvent(
        organisation_id=org_id,  # type: ignore[arg-type]
        actor="operator",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome="success",
        source="demo",
        payload=payload,
    )


# --- the roster, generated -----------------------------------------------------------------

SEED = 20181017  # the first day of the Nairobi workshop
SERVICE_TYPES = (
    "process_design",
    "conflict_analysis",
    "mediator_briefing",
    "coaching",
    "strategic_reflection",
    "debriefing",
    "capacity_building",
    "technical_support",
    "knowledge_management",
)
SENIORITY: tuple[tuple[roster_schemas.Seniority, int], ...] = (
    ("junior", 10),
    ("mid", 35),
    ("senior", 40),
    ("eminent", 15),
)
YEARS = {"junior": (3, 7), "mid": (8, 14), "senior": (15, 24), "eminent": (25, 38)}
LEVELS: dict[str, tuple[roster_schemas.Level, ...]] = {
    "junior": ("working",),
    "mid": ("working", "advanced"),
    "senior": ("advanced", "expert"),
    "eminent": ("expert",),
}
TITLES = {
    "junior": "Mediation support officer",
    "mid": "Mediation and dialogue adviser",
    "senior": "Senior mediation adviser",
    "eminent": "Eminent mediator",
}
PAST_PROCESSES = {"junior": (0, 1), "mid": (1, 2), "senior": (1, 3), "eminent": (2, 3)}
PROFICIENCY: tuple[roster_schemas.Proficiency, ...] = ("basic", "working", "fluent", "native")
WORLD_LANGUAGES = frozenset({"en", "fr", "es", "ar", "pt", "ru"})
LAST_DAY = date(2027, 12, 31)
CONSENT_FROM = date(2024, 1, 15)

T = TypeVar("T")


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
    return data.COUNTRY_NAMES.get(code) or _labels()[code]


def _language_name(code: str) -> str:
    return data.LANGUAGE_NAMES.get(code) or _labels()[f"lang:{code}"]


@dataclass(frozen=True)
class DemoExpert:
    organisation: str
    create: roster_schemas.ExpertCreate


def _name(rng: random.Random, group: data.NameGroup, female: bool, taken: set[str]) -> str:
    while True:
        given = rng.choice(group.female if female else group.male)
        families = [
            f if isinstance(f, str) else f[1] if female else f[0]
            for f in rng.sample(group.family, 2 if group.two_family_names else 1)
        ]
        name = " ".join((given, *families))
        famous = {name, f"{given} {families[0]}"} & data.BLOCKED_NAMES
        if name not in taken and not famous and given not in families:
            taken.add(name)
            return name


def _languages(
    rng: random.Random, nationality: str, group: data.NameGroup, pool: data.RegionPool
) -> list[roster_schemas.LanguageSkill]:
    home = group.home_languages or data.COUNTRY_LANGUAGES[nationality]
    wanted = rng.choices((1, 2, 3, 4), weights=(1, 6, 8, 4))[0]
    if home[0] not in WORLD_LANGUAGES:
        wanted = max(wanted, 2)  # someone deployable speaks a language of the mediation too
    codes = [home[0]]
    if len(home) > 1 and wanted > 1:
        codes.append(home[1])  # the country's other official or common language
    francas = group.lingua_francas or pool.lingua_francas
    rest = [c for c in dict.fromkeys((*home[1:], *francas)) if c not in codes]
    codes += _front_weighted(rng, rest, min(wanted - len(codes), len(rest)))
    skills = [roster_schemas.LanguageSkill(code=codes[0], read="native", speak="native", write="native")]
    for position, code in enumerate(codes[1:]):
        best = 2 if position == 0 and code in home[1:2] else rng.choice((1, 1, 2, 2, 0))
        write = max(0, best - (rng.random() < 0.4))
        read = max(write, best - (rng.random() < 0.2))
        skills.append(
            roster_schemas.LanguageSkill(
                code=code, read=PROFICIENCY[read], speak=PROFICIENCY[best], write=PROFICIENCY[write]
            )
        )
    return skills


def _windows(rng: random.Random) -> list[roster_schemas.Window]:
    """One to three windows in 2026–2027, none overlapping another."""
    months = sorted(rng.sample(range(24), rng.choices((1, 2, 3), weights=(3, 4, 3))[0]))
    starts = [date(2026 + m // 12, m % 12 + 1, rng.choice((1, 1, 8, 15))) for m in months]
    windows = []
    for i, start in enumerate(starts):
        limit = starts[i + 1] - timedelta(days=1) if i + 1 < len(starts) else LAST_DAY
        end = min(start + timedelta(days=rng.randint(20, 120)), limit)
        mode = rng.random()  # mostly either way; some remote only, some in person only
        windows.append(
            roster_schemas.Window(
                start=start, end=end, remote=mode >= 0.12, in_person=not 0.12 <= mode < 0.22
            )
        )
    return windows


def _expert(rng: random.Random, slug: str, taken: set[str]) -> roster_schemas.ExpertCreate:
    _, weights = data.ROSTERS[slug]
    pool = data.POOLS[rng.choices([p for p, _ in weights], weights=[w for _, w in weights])[0]]
    members = None if slug in data.OPEN_ROSTERS else taxonomy.countries_in(slug)
    groups = [
        (group, [c for c in group.countries if members is None or c in members]) for group in pool.groups
    ]
    group, countries = rng.choice([(g, cs) for g, cs in groups if cs])
    nationality = rng.choice(countries)
    female = rng.random() < 0.5
    name = _name(rng, group, female, taken)
    seniority = rng.choices([s for s, _ in SENIORITY], weights=[w for _, w in SENIORITY])[0]

    size = rng.choice((1, 2, 2, 3, 3, 4))
    services = rng.sample(SERVICE_TYPES, 0 if size == 1 else rng.choice((0, 1, 1) if size < 4 else (1, 2)))
    themes = _front_weighted(rng, pool.themes, size - len(services))
    levels = LEVELS[seniority]
    expertise = [roster_schemas.Expertise(kind="theme", term=t, level=rng.choice(levels)) for t in themes] + [
        roster_schemas.Expertise(kind="service_type", term=s, level=rng.choice(levels)) for s in services
    ]
    languages = _languages(rng, nationality, group, pool)

    places = [p for p in pool.experience if len(p) == 2 and p != nationality]
    regions = [p for p in pool.experience if len(p) != 2]
    experience = [nationality, *rng.sample(places, rng.randint(1, 3)), rng.choice(regions)]

    affiliations = rng.sample(pool.affiliations, 1 if seniority == "junior" else rng.randint(1, 2))
    if seniority in ("senior", "eminent") or rng.random() < 0.3:
        affiliations.append(rng.choice(data.FORMER_POSTS))
    past = rng.sample(pool.past_processes, rng.randint(*PAST_PROCESSES[seniority]))

    years = rng.randint(*YEARS[seniority])
    bio = (
        f"{TITLES[seniority]} from {_country_name(nationality)} with {years} years of experience in "
        f"{_and([_lower_first(_labels()[t]) for t in themes])}."
        + (f" Offers {_and([_lower_first(_labels()[s]) for s in services])}." if services else "")
        + f" Works in {_and([_language_name(s.code) for s in languages])}."
    )
    draw = rng.random()
    sharing: Sharing = "private" if draw < 0.06 else "public" if draw < 0.12 else "network"
    org = next(o for o in ORGANISATIONS if o.slug == slug)
    given_on = CONSENT_FROM + timedelta(days=rng.randint(0, 880))
    local = ".".join(_ascii(part) for part in name.split(" ", 1))
    return roster_schemas.ExpertCreate(
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
        consent=roster_schemas.Consent(
            given_on=given_on,
            purpose=f"Listed on the {org.acronym} roster and shared "
            + ("within the organisation only" if sharing == "private" else f"at the '{sharing}' level"),
            recorded_by=f"{org.acronym} {data.OFFICES[slug][0].name}",
        ),
        contact=roster_schemas.Contact(
            email=f"{local}@{rng.choice(('example.org', 'example.net'))}",
            phone=f"+000 {rng.randint(100, 999)} {rng.randint(0, 9_999_999):07d}",
        ),
        sharing=sharing,
    )


@functools.cache
def demo_experts() -> tuple[DemoExpert, ...]:
    """The demo roster: the same experts, in the same order, on every call and in every process."""
    rng = random.Random(SEED)
    taken: set[str] = set()
    return tuple(
        DemoExpert(slug, _expert(rng, slug, taken))
        for slug in sorted(data.ROSTERS)
        for _ in range(data.ROSTERS[slug][0])
    )


# --- loading -------------------------------------------------------------------------------


@dataclass
class Counts:
    offices: int = 0
    capacities: int = 0
    stale: int = 0
    experts: int = 0
    new_offices: int = 0
    new_capacities: int = 0
    new_experts: int = 0
    trainings: int = 0
    new_trainings: int = 0
    publications: int = 0
    new_publications: int = 0


async def _count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Rows of the one table ``where`` names (autoflush sends what is pending first)."""
    return await session.scalar(select(func.count()).where(*where)) or 0


def _principal(org: Organisation) -> Principal:
    return Principal(org.id, org.slug, "demo", frozenset(SCOPES), "demo", 2**31 - 1)


def _office_create(spec: data.OfficeSpec) -> schemas.OfficeCreate:
    return schemas.OfficeCreate(
        name=spec.name,
        mandate=spec.mandate,
        parent_structure=spec.parent_structure,
        staff_size=spec.staff_size,
        role_mailbox=spec.role_mailbox,
        sharing=spec.sharing,
    )


def _capacity_create(spec: data.CapacitySpec) -> schemas.CapacityCreate:
    return schemas.CapacityCreate(
        service_type=spec.service_type,
        themes=list(spec.themes),
        countries=list(spec.countries),
        regions=list(spec.regions),
        languages=list(spec.languages),
        lead_time_days=spec.lead_time_days,
        concurrent_engagements=spec.concurrent_engagements,
        notes=spec.notes,
        sharing=spec.sharing,
    )


async def _ensure_offices(
    session: AsyncSession, settings: Settings, org: Organisation, counts: Counts
) -> None:
    principal = _principal(org)
    existing = set(await session.scalars(select(Office.name).where(Office.organisation_id == org.id)))
    for spec in data.OFFICES[org.slug]:
        if spec.name in existing:
            continue
        office_data = _office_create(spec)
        office = await service.create_office(session, principal, office_data, origin=settings.issuer)
        await record(session, _operator_event(org.id, "office.create", "office", str(office.id), office_data))
        counts.new_offices += 1
        for capacity_spec in spec.capacities:
            capacity_data = _capacity_create(capacity_spec)
            capacity = await service.create_capacity(
                session, principal, office.id, capacity_data, origin=settings.issuer
            )
            if capacity_spec.confirmed_days_ago is not None:
                # not re-confirmed for a while, so that staleness shows: as if entered back then
                row = await session.get(Capacity, capacity.id)
                assert row is not None
                row.last_confirmed_at = row.created_at = row.updated_at = datetime.now(UTC) - timedelta(
                    days=capacity_spec.confirmed_days_ago
                )
            await record(
                session,
                _operator_event(org.id, "capacity.create", "capacity", str(capacity.id), capacity_data),
            )
            counts.new_capacities += 1
    counts.offices += await _count(session, Office.organisation_id == org.id)
    counts.capacities += await _count(session, Capacity.organisation_id == org.id)
    counts.stale += await _count(
        session,
        Capacity.organisation_id == org.id,
        Capacity.last_confirmed_at < func.now() - service.STALE_AFTER,
    )


async def _ensure_experts(
    session: AsyncSession, settings: Settings, org: Organisation, counts: Counts
) -> None:
    principal = _principal(org)
    owned = Expert.organisation_id == org.id, Expert.deleted_at.is_(None)
    existing = set(await session.scalars(select(Expert.name).where(*owned)))
    for demo_expert in demo_experts():
        if demo_expert.organisation != org.slug or demo_expert.create.name in existing:
            continue
        expert = await roster.create_expert(session, principal, demo_expert.create, origin=settings.issuer)
        await record(
            session, _operator_event(org.id, "expert.create", "expert", str(expert.id), demo_expert.create)
        )
        counts.new_experts += 1
    counts.experts += await _count(session, *owned)


async def _ensure_directory_and_roster(session: AsyncSession, settings: Settings) -> Counts:
    counts = Counts()
    for slug in sorted(data.OFFICES):
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        await _ensure_offices(session, settings, org, counts)
        await _ensure_experts(session, settings, org, counts)
        trainings, new_trainings, publications, new_publications = await training_demo.ensure(
            session, _principal(org), origin=settings.issuer
        )
        counts.trainings += trainings
        counts.new_trainings += new_trainings
        counts.publications += publications
        counts.new_publications += new_publications
    return counts


# --- processes and support requests ----------------------------------------------------------


async def _act_as(session: AsyncSession, slug: str) -> Principal:
    org = await organisations.get_by_slug(session, slug)
    await set_organisation(session, org.id)
    return _principal(org)


async def _office_id(session: AsyncSession, slug: str, name: str) -> Any:
    org = await organisations.get_by_slug(session, slug)
    return await session.scalar(
        select(Office.id).where(Office.organisation_id == org.id, Office.name == name)
    )


async def _ensure_processes(session: AsyncSession, settings: Settings) -> tuple[dict[str, Any], int]:
    ids, new = {}, 0
    for spec in data.PROCESSES:
        principal = await _act_as(session, spec.proposer)
        found = await session.scalar(
            select(Process.id).where(Process.organisation_id == principal.org_id, Process.name == spec.name)
        )
        if found is None:
            create = process_schemas.ProcessCreate(
                name=spec.name,
                description=spec.description,
                countries=list(spec.countries),
                region=spec.region,
                level=spec.level,  # type: ignore[arg-type]
                track=spec.track,  # type: ignore[arg-type]
                lead_mediators=list(spec.lead_mediators),
                conflict_parties=list(spec.conflict_parties),
                phase=spec.phase,  # type: ignore[arg-type]
                sharing=spec.sharing,  # type: ignore[arg-type]
            )
            found = (await processes.create_process(session, principal, create, origin=settings.issuer)).id
            await record(
                session, _operator_event(principal.org_id, "process.create", "process", str(found), create)
            )
            new += 1
        ids[spec.name] = found
    return ids, new


async def _play(session: AsyncSession, settings: Settings, spec: data.RequestSpec, process_id: Any) -> None:
    """Create a request and take it through the lifecycle to the state the demo shows."""
    principal = await _act_as(session, spec.organisation)
    addressees = [await _office_id(session, slug, name) for slug, name in spec.addressees]
    create = request_schemas.RequestCreate(
        process_id=process_id,
        office_id=await _office_id(session, spec.organisation, spec.office),
        title=spec.title,
        description=spec.description,
        service_types=list(spec.service_types),
        themes=list(spec.themes),
        languages=list(spec.languages),
        period=request_schemas.Period(start=spec.start, end=spec.end),
        urgency=spec.urgency,  # type: ignore[arg-type]
        mandate=request_schemas.Mandate(type=spec.mandate_type, reference=spec.mandate_reference),  # type: ignore[arg-type]
        route=spec.route,  # type: ignore[arg-type]
        addressees=addressees,
    )
    made = await requests.create_request(session, principal, create, origin=settings.issuer)
    await record(
        session, _operator_event(principal.org_id, "request.create", "request", str(made.id), create)
    )
    if spec.state == "draft":
        return
    await requests.submit_request(session, principal, made.id)
    offers = []
    for response in spec.responses:
        responder = await _act_as(session, response.organisation)
        answer = request_schemas.ResponseCreate(
            office_id=await _office_id(session, response.organisation, response.office),
            kind=response.kind,  # type: ignore[arg-type]
            note=response.text if response.kind == "offer" else "",
            reason=response.text if response.kind == "decline" else "",
        )
        offers.append(await requests.respond(session, responder, made.id, answer, origin=settings.issuer))
    principal = await _act_as(session, spec.organisation)
    if spec.state in ("accepted", "in-progress", "completed") and offers:
        await requests.accept_response(session, principal, made.id, offers[0].id)
    if spec.state in ("in-progress", "on-hold"):
        await requests.update_request(
            session,
            principal,
            made.id,
            request_schemas.RequestUpdate(state=spec.state),
            None,  # type: ignore[arg-type]
        )
    if spec.state == "completed":
        outcome = request_schemas.Outcome(**spec.outcome)  # type: ignore[arg-type]
        await requests.close_request(session, principal, made.id, outcome)
    if spec.state == "cancelled":
        await requests.withdraw_request(session, principal, made.id)


async def _ensure_requests(session: AsyncSession, settings: Settings) -> tuple[int, int, int]:
    """Processes, and support requests in every state of their lifecycle (created once, by title)."""
    process_ids, new_processes = await _ensure_processes(session, settings)
    new_requests = 0
    for spec in data.REQUESTS:
        principal = await _act_as(session, spec.organisation)
        exists = await session.scalar(
            select(SupportRequest.id).where(
                SupportRequest.organisation_id == principal.org_id, SupportRequest.title == spec.title
            )
        )
        if exists is None:
            await _play(session, settings, spec, process_ids[spec.process])
            new_requests += 1
    return len(process_ids), new_processes, new_requests


async def load(settings: Settings) -> str:
    """Create what is missing; return what to try next."""
    assert settings.database_url
    async with cli_session(settings.database_url) as session:
        existing = set(await session.scalars(select(Organisation.slug)))
        created = 0
        for org in ORGANISATIONS:
            if org.slug not in existing:
                await organisations.create_organisation(session, org, origin=settings.issuer)
                created += 1
    async with cli_session(settings.database_url) as session:
        client = await _ensure_clients(session, settings)
    async with cli_session(settings.database_url) as session:
        counts = await _ensure_directory_and_roster(session, settings)
    async with cli_session(settings.database_url) as session:
        n_processes, new_processes, new_requests = await _ensure_requests(session, settings)
    base = settings.issuer
    token_call = (
        f"TOKEN=$(curl -s -u '{client.client_id}:{client.client_secret}' -d grant_type=client_credentials "
        f"{base}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    auth_header = '-H "Authorization: Bearer $TOKEN"'
    return "\n".join(
        [
            f"msnet demo: {len(ORGANISATIONS)} organisations ({created} new), one OAuth client each",
            f"  {counts.offices} offices ({counts.new_offices} new), {counts.capacities} capacities "
            f"({counts.new_capacities} new; {counts.stale} not confirmed for 180 days), "
            f"{counts.experts} experts on the rosters ({counts.new_experts} new)",
            f"  {n_processes} peace processes ({new_processes} new), {len(data.REQUESTS)} support requests "
            f"in every state of their lifecycle ({new_requests} new)",
            f"  {counts.trainings} trainings in 2027 ({counts.new_trainings} new), "
            f"{counts.publications} publications ({counts.new_publications} new)",
            "",
            f"Credentials of the {SHOWN.upper()} demo client (every scope; a new secret on each run):",
            f"  client_id:     {client.client_id}",
            f"  client_secret: {client.client_secret}",
            "",
            "Try:",
            f"  curl -s {base}/v1/organisations | python3 -m json.tool",
            f"  curl -s {base}/v1/offices | python3 -m json.tool   # without a token: public offices only",
            f"  {token_call}",
            f"  curl -s {auth_header} {base}/v1/organisations/{SHOWN}/clients | python3 -m json.tool",
            f"  curl -s {auth_header} '{base}/v1/capacities?region=eastern_africa' | python3 -m json.tool",
            f"  curl -s {auth_header} '{base}/v1/experts?language=fr&theme=ceasefire_security' "
            "| python3 -m json.tool",
            f"  curl -s {auth_header} '{base}/v1/experts?{urlencode(AVAILABLE_FOR_TRANSHUMANCE)}' "
            "| python3 -m json.tool",
            f"  curl -s {auth_header} {base}/v1/inbox | python3 -m json.tool",
            f"  curl -s {auth_header} '{base}/v1/requests?role=requester' | python3 -m json.tool",
            f"  curl -s {auth_header} {base}/v1/overlaps | python3 -m json.tool   # AU and IGAD both on Sudan",
            f"  curl -s {auth_header} '{base}/v1/trainings?open=true&theme=gender_inclusion' "
            "| python3 -m json.tool",
            f"  curl -s {base}/v1/trainings.ics   # a calendar of the public trainings",
            f"  curl -s {auth_header} {base}/v1/audit | python3 -m json.tool",
            f"  open {base}/schema for the API documentation",
        ]
    )
