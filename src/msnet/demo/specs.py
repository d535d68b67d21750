"""What the demo network is made of, read from ``msnet/demo/data``: each file decodes into the structs
here, so a misspelt field or a value of the wrong kind fails as the file loads.

Everything there is invented. Offices are modelled on the structures the 2018 UN–EU workshop note
describes, but their mailboxes are on example.org; the experts are generated from the pools by
``msnet.demo.roster`` with a fixed seed, so every run makes the same people, none of them real.
"""

from __future__ import annotations

import functools
import importlib.resources
from datetime import date, datetime
from typing import Any, Literal

import msgspec

from msnet.api import Struct
from msnet.fields import CountryCode, Email, LanguageCode, Name, Slug, TermId
from msnet.organisations.schemas import OrganisationCreate
from msnet.processes.schemas import Level, Phase, Track
from msnet.requests.schemas import MandateType, Outcome, Route, State, Urgency
from msnet.roster.schemas import Level as ExpertiseLevel
from msnet.roster.schemas import Proficiency, Seniority
from msnet.sharing import Sharing
from msnet.training.schemas import Audience, Format, TrainingKind


class Spec(Struct, frozen=True):
    """A record of a data file: immutable once read."""


# --- offices and capacities ----------------------------------------------------------------------


class CapacitySpec(Spec):
    service_type: TermId
    themes: tuple[TermId, ...] = ()
    countries: tuple[CountryCode, ...] = ()
    regions: tuple[TermId, ...] = ()
    languages: tuple[LanguageCode, ...] = ()
    lead_time_days: int = 14
    concurrent_engagements: int = 1
    notes: str = ""
    sharing: Sharing = "network"
    #: last confirmed this many days ago (over 180: stale); None for "now", as created
    confirmed_days_ago: int | None = None


class OfficeSpec(Spec):
    name: Name
    parent_structure: str
    mandate: str
    staff_size: int
    role_mailbox: Email
    capacities: tuple[CapacitySpec, ...]
    sharing: Sharing = "network"


# --- the roster ----------------------------------------------------------------------------------

#: A family name that differs between men and women (Slavic, Central Asian) is a (male, female) pair.
Family = str | tuple[str, str]


class NameGroup(Spec):
    """People of these nationalities are named from these lists."""

    countries: tuple[CountryCode, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[Family, ...]
    two_family_names: bool = False  # the Spanish and Portuguese custom
    home_languages: tuple[LanguageCode, ...] = ()  # instead of country_languages (India is not all Hindi)
    lingua_francas: tuple[LanguageCode, ...] = ()  # instead of the region's


class RegionPool(Spec):
    label: str
    groups: tuple[NameGroup, ...]
    experience: tuple[str, ...]  # countries (ISO 3166-1) and M49 regions worked in
    themes: tuple[TermId, ...]  # the likelier first
    lingua_francas: tuple[LanguageCode, ...]  # languages learnt besides those of the home country
    affiliations: tuple[str, ...]
    past_processes: tuple[str, ...]


class SeniorityLevel(Spec):
    weight: int  # how often it is drawn, relative to the others
    years: tuple[int, int]  # of experience, at least and at most
    levels: tuple[ExpertiseLevel, ...]  # of each area of expertise, one drawn for each
    title: str  # opens the biography
    past_processes: tuple[int, int]  # at least and at most


class RosterSize(Spec):
    experts: int
    pools: dict[str, int]  # weights, in the order drawn from


class Roster(Spec):
    """How the roster is generated, and how many experts each organisation gets."""

    seed: int  # 20181017, the first day of the Nairobi workshop
    service_types: tuple[TermId, ...]  # an expert may offer
    seniority: dict[Seniority, SeniorityLevel]  # in the order drawn from
    proficiency: tuple[Proficiency, ...]  # the levels a second language is drawn from, lowest first
    world_languages: frozenset[LanguageCode]  # a first language outside these: a second one is certain
    consent_from: date  # the earliest consent
    last_day: date  # of availability
    #: organisation: its roster's size and pools. Nationalities are limited to the organisation's
    #: member states, except for the open rosters.
    rosters: dict[Slug, RosterSize]
    open_rosters: frozenset[Slug]
    former_posts: tuple[str, ...]  # that anyone may have held: generic, so they name no real career
    #: combinations the pools could produce that name well-known people: never generated (for two
    #: family names, the given name with the first family name counts too)
    blocked_names: frozenset[str]
    #: the languages of a nationality: the first language first, then others commonly used there
    country_languages: dict[CountryCode, tuple[LanguageCode, ...]]
    #: plain names for prose where the ISO name reads awkwardly ("Congo, The Democratic Republic of the")
    country_names: dict[CountryCode, str]
    language_names: dict[LanguageCode, str]


# --- processes and support requests ---------------------------------------------------------------


class ProcessSpec(Spec):
    proposer: Slug
    name: Name
    countries: tuple[CountryCode, ...]
    level: Level
    track: Track
    lead_mediators: tuple[Slug, ...]
    conflict_parties: tuple[str, ...]
    phase: Phase
    description: str
    region: TermId | None = None
    sharing: Sharing = "network"


class ResponseSpec(Spec):
    organisation: Slug
    office: str
    kind: Literal["offer", "decline"]
    text: str  # the note of an offer, the reason of a decline


class RequestSpec(Spec):
    organisation: Slug
    office: str
    process: str  # a process's name
    title: Name
    description: str
    service_types: tuple[TermId, ...]
    themes: tuple[TermId, ...]
    languages: tuple[LanguageCode, ...]
    start: date
    end: date
    mandate_type: MandateType
    mandate_reference: str
    state: State  # where the demo leaves it
    addressees: tuple[tuple[Slug, str], ...] = ()  # (organisation, office name)
    route: Route = "named"
    urgency: Urgency = "routine"
    responses: tuple[ResponseSpec, ...] = ()
    outcome: Outcome | None = None


# --- trainings and publications ---------------------------------------------------------------------


class Venue(Spec):
    city: str
    country: CountryCode
    time_zone: str


class TrainingSpec(Spec):
    organisation: Slug
    title: Name
    kind: TrainingKind
    start: datetime  # local date and time at the venue
    end: datetime
    themes: tuple[TermId, ...]
    languages: tuple[LanguageCode, ...]
    description: str
    format: Format = "in_person"
    deadline_days: int | None = 42  # applications close this many days before the start
    seats: int | None = 24
    audience: tuple[Audience, ...] = ("member_staff",)
    cost: str = "Free for staff of member organisations; travel covered by the sending organisation"
    venue: Venue | None = None  # elsewhere than the organisation's usual venue
    sharing: Sharing = "network"


class Trainings(Spec):
    """A year of trainings (2027), modelled on what the 2018 UN–EU workshop note says offices offer
    (mediation courses, envoy briefings and retreats, peer exchanges, joint trainings) and on an advanced
    professional training programme for mediators."""

    venues: dict[Slug, Venue]  # each organisation's usual venue
    trainings: tuple[TrainingSpec, ...]


class PublicationSpec(Spec):
    organisation: Slug
    title: Name
    summary: str
    themes: tuple[TermId, ...]
    languages: tuple[LanguageCode, ...]
    published_on: date
    sharing: Sharing = "network"


# --- the files -------------------------------------------------------------------------------------


#: Each file of ``msnet/demo/data`` and what it decodes into.
FILES: dict[str, Any] = {
    "organisations.json": tuple[OrganisationCreate, ...],
    "offices.json": dict[Slug, tuple[OfficeSpec, ...]],  # each organisation's, with their capacities
    "roster.json": Roster,
    "pools.json": dict[str, RegionPool],  # names, languages, places, affiliations, processes by region
    "processes.json": tuple[ProcessSpec, ...],
    "requests.json": tuple[RequestSpec, ...],
    "trainings.json": Trainings,
    "publications.json": tuple[PublicationSpec, ...],
}


def read(name: str) -> Any:
    """One data file, decoded (and so validated) into its structs."""
    raw = (importlib.resources.files("msnet.demo") / "data" / name).read_bytes()
    try:
        return msgspec.json.decode(raw, type=FILES[name])
    except msgspec.ValidationError as exc:
        exc.add_note(f"in msnet/demo/data/{name}")
        raise


@functools.cache
def organisations() -> tuple[OrganisationCreate, ...]:
    return read("organisations.json")


@functools.cache
def offices() -> dict[str, tuple[OfficeSpec, ...]]:
    return read("offices.json")


@functools.cache
def roster() -> Roster:
    return read("roster.json")


@functools.cache
def pools() -> dict[str, RegionPool]:
    return read("pools.json")


@functools.cache
def processes() -> tuple[ProcessSpec, ...]:
    return read("processes.json")


@functools.cache
def requests() -> tuple[RequestSpec, ...]:
    return read("requests.json")


@functools.cache
def trainings() -> Trainings:
    return read("trainings.json")


@functools.cache
def publications() -> tuple[PublicationSpec, ...]:
    return read("publications.json")
