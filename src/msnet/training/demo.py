"""The demo network's trainings (a year of them, 2027) and publications, loaded idempotently: keyed by
title within an organisation, so a second run creates nothing.

Invented, modelled on what the 2018 UN–EU workshop note says offices offer (mediation courses, envoy
briefings and retreats, peer exchanges, joint trainings) and on an advanced professional training
programme for mediators; links are on example.org.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import AuditEvent, record
from msnet.auth.principal import Principal
from msnet.sharing import Sharing
from msnet.training import schemas, service
from msnet.training.models import Publication, Training

# organisation: (city, country, time zone) of its usual venue
VENUES = {
    "au": ("Addis Ababa", "ET", "Africa/Addis_Ababa"),
    "commonwealth": ("London", "GB", "Europe/London"),
    "eac": ("Arusha", "TZ", "Africa/Dar_es_Salaam"),
    "eccas": ("Libreville", "GA", "Africa/Libreville"),
    "eu": ("Brussels", "BE", "Europe/Brussels"),
    "igad": ("Djibouti", "DJ", "Africa/Djibouti"),
    "oas": ("Washington", "US", "America/New_York"),
    "oic": ("Jeddah", "SA", "Asia/Riyadh"),
    "osce": ("Vienna", "AT", "Europe/Vienna"),
    "un": ("New York", "US", "America/New_York"),
}


@dataclass(frozen=True)
class TrainingSpec:
    organisation: str
    title: str
    kind: schemas.TrainingKind
    start: str  # local date and time at the venue
    end: str
    themes: tuple[str, ...]
    languages: tuple[str, ...]
    description: str
    format: schemas.Format = "in_person"
    deadline_days: int | None = 42  # applications close this many days before the start
    seats: int | None = 24
    audience: tuple[schemas.Audience, ...] = ("member_staff",)
    cost: str = "Free for staff of member organisations; travel covered by the sending organisation"
    venue: tuple[str, str, str] | None = None  # elsewhere than the organisation's usual venue
    sharing: Sharing = "network"


TRAININGS = (
    TrainingSpec(
        "un",
        "Mediation process design: advanced course",
        "course",
        "2027-01-25T09:00",
        "2027-01-29T17:00",
        ("national_dialogue", "multi_track", "gender_inclusion"),
        ("en",),
        "Five days on designing mediation processes: mapping parties and interests, sequencing, formats "
        "from proximity talks to national dialogues, and inclusion of women and youth, with case studies.",
        venue=("Geneva", "CH", "Europe/Zurich"),
    ),
    TrainingSpec(
        "au",
        "Briefing for newly appointed envoys and special representatives",
        "envoy_retreat",
        "2027-02-15T09:00",
        "2027-02-17T13:00",
        ("ceasefire_security", "power_sharing"),
        ("en", "fr"),
        "Closed briefing for AU High Representatives and special envoys taking up a mandate: the AU "
        "mediation framework, working with the Regional Economic Communities, lessons from recent "
        "processes.",
        seats=12,
        audience=("envoy_teams",),
        deadline_days=21,
    ),
    TrainingSpec(
        "eu",
        "Mediation coaching for EU delegations: online series",
        "webinar",
        "2027-02-23T14:00",
        "2027-02-23T16:00",
        ("local_mediation", "confidence_building"),
        ("en", "fr"),
        "Monthly online session for staff of EU delegations and CSDP missions supporting dialogue "
        "processes: this month, confidence-building measures between communities.",
        format="online",
        deadline_days=3,
        seats=None,
        audience=("member_staff", "partners"),
        cost="Free",
        sharing="public",
    ),
    TrainingSpec(
        "igad",
        "Cross-border mediation of transhumance conflicts",
        "workshop",
        "2027-03-08T09:00",
        "2027-03-11T17:00",
        ("transhumance", "natural_resources", "local_mediation"),
        ("en", "so", "am"),
        "Four days with practitioners from the Horn of Africa on seasonal migration corridors, early "
        "warning, and the local peace committees that settle disputes between herders and farmers.",
        venue=("Nairobi", "KE", "Africa/Nairobi"),
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "osce",
        "Negotiation skills for field operations",
        "course",
        "2027-03-22T09:00",
        "2027-03-26T17:00",
        ("confidence_building", "multi_track"),
        ("en", "ru"),
        "Negotiation and facilitation skills for staff of OSCE field operations engaged in dialogue "
        "facilitation and incident prevention and response mechanisms.",
    ),
    TrainingSpec(
        "commonwealth",
        "Good offices and electoral disputes",
        "workshop",
        "2027-04-13T09:00",
        "2027-04-15T17:00",
        ("electoral_violence", "confidence_building"),
        ("en",),
        "How the good offices of a Secretary-General can help prevent and settle electoral disputes: "
        "early engagement, quiet diplomacy, and working with election management bodies.",
        audience=("member_staff", "envoy_teams"),
    ),
    TrainingSpec(
        "oas",
        "Dialogue facilitation in socio-environmental conflicts",
        "course",
        "2027-04-19T09:00",
        "2027-04-23T17:00",
        ("natural_resources", "land", "civil_society_youth"),
        ("es", "en"),
        "Curso sobre diálogo y facilitación en conflictos socioambientales: extractive industries, "
        "indigenous consultation and multi-stakeholder dialogue tables, with cases from the Andes.",
        venue=("Lima", "PE", "America/Lima"),
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "eac",
        "Women mediators network: peer exchange",
        "peer_exchange",
        "2027-05-10T09:00",
        "2027-05-12T17:00",
        ("gender_inclusion", "local_mediation"),
        ("en", "sw", "fr"),
        "Members of the regional network of women mediators exchange on insider mediation, access to "
        "track 1 processes, and mentoring the next generation.",
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "un",
        "Ceasefire mediation course",
        "course",
        "2027-05-17T09:00",
        "2027-05-21T17:00",
        ("ceasefire_security", "ddr", "armed_groups"),
        ("en", "fr"),
        "Designing and negotiating ceasefires and security arrangements: cessation of hostilities, "
        "monitoring and verification, links to DDR and security sector reform.",
        venue=("Nairobi", "KE", "Africa/Nairobi"),
        audience=("member_staff", "envoy_teams"),
    ),
    TrainingSpec(
        "eccas",
        "Médiation et dialogue politique en Afrique centrale",
        "workshop",
        "2027-05-31T09:00",
        "2027-06-03T17:00",
        ("national_dialogue", "electoral_violence"),
        ("fr", "pt"),
        "Atelier régional pour les envoyés et leurs équipes: dialogue national, crises "
        "post-électorales, coordination avec l'Union africaine.",
        audience=("envoy_teams", "member_staff"),
    ),
    TrainingSpec(
        "eu",
        "Staff exchange with the UN Mediation Support Unit",
        "exchange_visit",
        "2027-06-07T09:00",
        "2027-06-18T17:00",
        ("multi_track",),
        ("en",),
        "Two weeks embedded with the UN Mediation Support Unit in New York, as agreed at the 2018 "
        "UN–EU technical expert workshop: desk work, briefings with the Standby Team.",
        venue=("New York", "US", "America/New_York"),
        seats=2,
        deadline_days=60,
        cost="Travel and subsistence covered by the EEAS",
    ),
    TrainingSpec(
        "oic",
        "Religion and mediation: insider mediators",
        "workshop",
        "2027-06-21T09:00",
        "2027-06-23T17:00",
        ("religion", "local_mediation", "minorities"),
        ("ar", "en", "fr"),
        "The role of religious leaders and faith-based insider mediators in peace processes, with the "
        "network of traditional and religious peacemakers.",
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "au",
        "Mediation support to the Panel of the Wise: writing peace agreements",
        "course",
        "2027-07-05T09:00",
        "2027-07-09T17:00",
        ("agreement_implementation", "power_sharing", "constitution_making"),
        ("en", "fr", "ar", "pt"),
        "Drafting and implementing peace agreements: structure, language, implementation modalities "
        "and monitoring, with drafting exercises.",
    ),
    TrainingSpec(
        "osce",
        "Online course: gender and inclusion in dialogue processes",
        "webinar",
        "2027-07-14T10:00",
        "2027-07-14T12:30",
        ("gender_inclusion",),
        ("en", "ru"),
        "Practical tools for including women in formal negotiations and informal dialogue formats.",
        format="online",
        deadline_days=7,
        seats=200,
        sharing="public",
        cost="Free",
    ),
    TrainingSpec(
        "un",
        "High-level seminar on peace processes",
        "envoy_retreat",
        "2027-08-30T09:00",
        "2027-09-01T13:00",
        ("multi_track", "ceasefire_security", "transitional_justice"),
        ("en",),
        "Retreat for envoys, special representatives and senior mediators: peer-to-peer exchange on "
        "dilemmas of current processes, under the Chatham House rule.",
        venue=("Oslo", "NO", "Europe/Oslo"),
        seats=16,
        audience=("envoy_teams",),
    ),
    TrainingSpec(
        "igad",
        "Early warning and preventive diplomacy",
        "course",
        "2027-09-13T09:00",
        "2027-09-16T17:00",
        ("early_warning", "confidence_building"),
        ("en", "fr"),
        "From early warning to early action: conflict analysis, scenario building and options for "
        "preventive diplomacy for IGAD member states' focal points.",
    ),
    TrainingSpec(
        "eu",
        "Digital technologies in mediation",
        "workshop",
        "2027-09-27T09:00",
        "2027-09-28T17:00",
        ("digital_conflict", "media_communication"),
        ("en", "fr"),
        "Using digital tools in mediation (online consultations, social media analysis) and handling "
        "disinformation and hate speech around peace processes.",
        format="hybrid",
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "commonwealth",
        "Making mediation and peace processes work",
        "course",
        "2027-10-11T09:00",
        "2027-10-13T17:00",
        ("multi_track", "local_mediation", "agreement_implementation"),
        ("en",),
        "Three-day advanced professional training for expert mediators and parties: lessons learned, "
        "what works in the field and core skills, facilitated by an expert practitioner.",
        venue=("Cluj-Napoca", "RO", "Europe/Bucharest"),
        cost="EUR 1,200 (tuition); fee waived for member organisations' staff",
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "oas",
        "Electoral observation and mediation: peer exchange",
        "peer_exchange",
        "2027-10-25T09:00",
        "2027-10-26T17:00",
        ("electoral_violence",),
        ("es", "en", "pt", "fr"),
        "Heads of electoral observation missions and mediation staff compare notes on preventing "
        "post-electoral crises.",
        format="hybrid",
    ),
    TrainingSpec(
        "eac",
        "Natural resources and conflict in the Great Lakes",
        "course",
        "2027-11-08T09:00",
        "2027-11-12T17:00",
        ("natural_resources", "peace_economics", "land"),
        ("en", "fr", "sw"),
        "Resource-sharing arrangements, artisanal mining and land disputes in peace processes of the "
        "Great Lakes region.",
        audience=("member_staff", "partners"),
    ),
    TrainingSpec(
        "au",
        "AU–RECs mediation support retreat",
        "envoy_retreat",
        "2027-11-22T09:00",
        "2027-11-24T13:00",
        ("peace_infrastructures", "multi_track"),
        ("en", "fr"),
        "Annual retreat of the AU and the Regional Economic Communities' mediation support units on "
        "coordination, subsidiarity and joint deployments.",
        venue=("Kigali", "RW", "Africa/Kigali"),
        seats=30,
        audience=("member_staff", "envoy_teams"),
        sharing="private",
    ),
    TrainingSpec(
        "un",
        "Humanitarian negotiation and mediation webinar",
        "webinar",
        "2027-12-07T15:00",
        "2027-12-07T16:30",
        ("humanitarian_mediation",),
        ("en", "fr", "es"),
        "Access negotiations with armed groups and their place beside political mediation.",
        format="online",
        deadline_days=None,
        seats=None,
        sharing="public",
        cost="Free",
        audience=("member_staff", "envoy_teams", "partners"),
    ),
)


@dataclass(frozen=True)
class PublicationSpec:
    organisation: str
    title: str
    summary: str
    themes: tuple[str, ...]
    languages: tuple[str, ...]
    published_on: str
    sharing: Sharing = "network"


PUBLICATIONS = (
    PublicationSpec(
        "un",
        "Guidance for effective mediation: practitioners' companion",
        "Fundamentals of mediation (preparedness, consent, impartiality, inclusivity, national "
        "ownership) with examples from recent processes.",
        ("multi_track", "gender_inclusion"),
        ("en", "fr", "es", "ar"),
        "2026-06-15",
        "public",
    ),
    PublicationSpec(
        "eu",
        "Operationalising mediation support in regional organisations: summary note",
        "Summary of the UN–EU technical expert workshop of mediation support offices: advisory "
        "support, training, rosters and de-conflicting overlapping requests.",
        ("peace_infrastructures",),
        ("en",),
        "2026-03-01",
    ),
    PublicationSpec(
        "au",
        "Handbook on ceasefire and security arrangements",
        "Options for cessation of hostilities agreements, monitoring and verification, with model texts.",
        ("ceasefire_security", "ddr"),
        ("en", "fr"),
        "2026-09-10",
    ),
    PublicationSpec(
        "igad",
        "Transhumance corridors and local peace committees: lessons learned",
        "What local peace committees in the Horn of Africa have done to settle disputes between "
        "herders and farmers.",
        ("transhumance", "local_mediation"),
        ("en",),
        "2026-10-05",
    ),
    PublicationSpec(
        "osce",
        "Inclusion of women in dialogue facilitation: a toolkit",
        "Practical steps for field operations to include women in dialogue processes.",
        ("gender_inclusion",),
        ("en", "ru"),
        "2026-05-20",
        "public",
    ),
    PublicationSpec(
        "oas",
        "Diálogo en conflictos socioambientales: guía práctica",
        "Guía para facilitar mesas de diálogo en conflictos sobre recursos naturales.",
        ("natural_resources", "land"),
        ("es",),
        "2026-08-01",
    ),
)


def _training(spec: TrainingSpec) -> schemas.TrainingCreate:
    city, country, zone = spec.venue or VENUES[spec.organisation]
    start = datetime.fromisoformat(spec.start).replace(tzinfo=ZoneInfo(zone))
    end = datetime.fromisoformat(spec.end).replace(tzinfo=ZoneInfo(zone))
    slug = spec.title.lower().replace(" ", "-").replace(":", "")[:40]
    online = spec.format == "online"
    return schemas.TrainingCreate(
        title=spec.title,
        kind=spec.kind,
        format=spec.format,
        start=start,
        end=end,
        time_zone=zone,
        description=spec.description,
        themes=list(spec.themes),
        city=None if online else city,
        country=None if online else country,
        application_deadline=start - timedelta(days=spec.deadline_days) if spec.deadline_days else None,
        seats=spec.seats,
        languages=list(spec.languages),
        audience=list(spec.audience),
        cost=spec.cost,
        apply_url=f"https://training.{spec.organisation}.example.org/{slug}",
        apply_email=f"training@{spec.organisation}.example.org",
        sharing=spec.sharing,
    )


def _publication(spec: PublicationSpec) -> schemas.PublicationCreate:
    slug = spec.title.lower().replace(" ", "-").replace(":", "")[:40]
    return schemas.PublicationCreate(
        title=spec.title,
        url=f"https://library.{spec.organisation}.example.org/{slug}",
        published_on=date.fromisoformat(spec.published_on),
        summary=spec.summary,
        themes=list(spec.themes),
        languages=list(spec.languages),
        sharing=spec.sharing,
    )


def _event(principal: Principal, action: str, kind: str, record_id: Any, payload: Any) -> AuditEvent:
    return AuditEvent(
        organisation_id=principal.org_id,
        actor="operator",
        action=action,
        resource_type=kind,
        resource_id=str(record_id),
        outcome="success",
        source="demo",
        payload=payload,
    )


async def ensure(session: AsyncSession, principal: Principal, *, origin: str) -> tuple[int, int, int, int]:
    """Create the organisation's missing demo trainings and publications; (trainings, new ones,
    publications, new ones) of the organisation afterwards."""
    mine = Training.organisation_id == principal.org_id
    existing = set(await session.scalars(select(Training.title).where(mine)))
    new_trainings = 0
    for spec in TRAININGS:
        if spec.organisation != principal.org_slug or spec.title in existing:
            continue
        data = _training(spec)
        created = await service.create_training(session, principal, data, origin=origin)
        await record(session, _event(principal, "training.create", "training", created.id, data))
        new_trainings += 1
    owned = Publication.organisation_id == principal.org_id
    published = set(await session.scalars(select(Publication.title).where(owned)))
    new_publications = 0
    for pub in PUBLICATIONS:
        if pub.organisation != principal.org_slug or pub.title in published:
            continue
        pub_data = _publication(pub)
        made = await service.create_publication(session, principal, pub_data, origin=origin)
        await record(session, _event(principal, "publication.create", "publication", made.id, pub_data))
        new_publications += 1
    trainings = await session.scalar(select(func.count()).select_from(Training).where(mine)) or 0
    publications = await session.scalar(select(func.count()).select_from(Publication).where(owned)) or 0
    return trainings, new_trainings, publications, new_publications
