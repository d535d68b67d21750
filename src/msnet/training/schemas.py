"""API boundary of trainings, publications and digest subscriptions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import CountryCode, Email, LanguageCode, LongText, TermId
from msnet.sharing import ShareWith, Sharing

TrainingKind = Literal["course", "workshop", "exchange_visit", "envoy_retreat", "peer_exchange", "webinar"]
Format = Literal["in_person", "online", "hybrid"]
Audience = Literal["member_staff", "envoy_teams", "partners"]
Period = Literal["weekly", "monthly"]

Title = Annotated[str, Meta(min_length=2, max_length=200)]
Url = Annotated[
    str,
    Meta(
        pattern=r"^https?://[^\s/$.?#][^\s]*$",
        max_length=500,
        description="An http:// or https:// URL.",
        examples=["https://training.example.org/apply"],
    ),
]
TimeZone = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        description="IANA time zone where it takes place (calendars show it in local time).",
        examples=["Africa/Addis_Ababa"],
    ),
]
Themes = Annotated[list[TermId], Meta(max_length=20)]
Languages = Annotated[list[LanguageCode], Meta(max_length=20)]
AudienceList = Annotated[
    list[Audience],
    Meta(
        max_length=3,
        description="`member_staff` (staff of member organisations), `envoy_teams` (envoys and their "
        "teams), `partners`.",
    ),
]
City = Annotated[str, Meta(min_length=1, max_length=100)]
Seats = Annotated[int, Meta(ge=1, le=10_000)]
Cost = Annotated[str, Meta(max_length=300, examples=["Free; travel and accommodation covered"])]
Instant = Annotated[datetime, Meta(description="RFC 3339 with a zone offset.")]


class TrainingCreate(Struct):
    """A training opportunity to share: a course, workshop, exchange visit, envoy retreat, peer exchange or
    webinar, when and where it takes place and how to apply."""

    title: Annotated[Title, Meta(examples=["Mediation process design course for AU and REC staff"])]
    kind: Annotated[TrainingKind, Meta(examples=["course"])]
    format: Format
    start: Instant
    end: Instant
    time_zone: TimeZone
    description: Annotated[
        LongText,
        Meta(
            examples=[
                "Five days on designing inclusive processes, with case studies from the Horn of Africa."
            ]
        ),
    ] = ""
    themes: Themes = []
    city: Annotated[City | None, Meta(examples=["Addis Ababa"])] = None
    country: Annotated[CountryCode | None, Meta(examples=["ET"])] = None
    application_deadline: Instant | None = None
    seats: Annotated[Seats | None, Meta(examples=[24])] = None
    languages: Languages = []
    audience: AudienceList = []
    cost: Cost = ""
    apply_url: Url | None = None
    apply_email: Email | None = None
    sharing: Sharing = "network"
    share_with: ShareWith = []


class TrainingUpdate(Struct):
    """The changes to a training: only the fields sent change."""

    title: Title | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    kind: TrainingKind | UnsetType = UNSET
    themes: Themes | UnsetType = UNSET
    format: Format | UnsetType = UNSET
    city: City | UnsetType | None = UNSET
    country: CountryCode | UnsetType | None = UNSET
    start: Instant | UnsetType = UNSET
    end: Instant | UnsetType = UNSET
    time_zone: TimeZone | UnsetType = UNSET
    application_deadline: Instant | UnsetType | None = UNSET
    seats: Annotated[Seats, Meta(examples=[30])] | UnsetType | None = UNSET
    languages: Languages | UnsetType = UNSET
    audience: AudienceList | UnsetType = UNSET
    cost: Cost | UnsetType = UNSET
    apply_url: Url | UnsetType | None = UNSET
    apply_email: Email | UnsetType | None = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Training(Struct):
    """A training opportunity an organisation shares with the network."""

    id: UUID
    organisation: str
    title: Annotated[str, Meta(examples=["Mediation process design course for AU and REC staff"])]
    description: Annotated[
        str,
        Meta(
            examples=[
                "Five days on designing inclusive processes, with case studies from the Horn of Africa."
            ]
        ),
    ]
    kind: Annotated[TrainingKind, Meta(examples=["course"])]
    themes: Annotated[list[str], Meta(examples=[["process_design", "gender_inclusion"]])]
    format: Format
    city: Annotated[str | None, Meta(examples=["Addis Ababa"])]
    country: Annotated[str | None, Meta(examples=["ET"])]
    start: Annotated[datetime, Meta(examples=["2027-03-08T06:30:00Z"])]
    end: Annotated[datetime, Meta(examples=["2027-03-12T14:00:00Z"])]
    time_zone: Annotated[str, Meta(examples=["Africa/Addis_Ababa"])]
    application_deadline: datetime | None
    seats: Annotated[int | None, Meta(examples=[24])]
    languages: Annotated[list[str], Meta(examples=[["en", "fr"]])]
    audience: Annotated[list[Audience], Meta(examples=[["member_staff"]])]
    cost: Annotated[str, Meta(examples=["Free; travel and accommodation covered"])]
    apply_url: Annotated[str | None, Meta(examples=["https://training.example.org/apply"])]
    apply_email: Annotated[str | None, Meta(examples=["training@au.example.org"])]
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


Facets = dict[str, dict[str, int]]


class TrainingPage(Struct):
    """A page of trainings, with facets counting what matched."""

    items: list[Training]
    next_cursor: str | None
    total: int
    facets: Facets


class PublicationCreate(Struct):
    """A publication to share: a guidance note, report or lessons-learned paper, and where to read it."""

    title: Annotated[
        str,
        Meta(min_length=2, max_length=300, examples=["Guidance note on inclusive ceasefire negotiations"]),
    ]
    url: Url
    published_on: date
    summary: LongText = ""
    themes: Themes = []
    languages: Languages = []
    sharing: Sharing = "network"
    share_with: ShareWith = []


class PublicationUpdate(Struct):
    """The changes to a publication: only the fields sent change."""

    title: Annotated[str, Meta(min_length=2, max_length=300)] | UnsetType = UNSET
    summary: Annotated[LongText, Meta(examples=["Updated with the 2027 case studies."])] | UnsetType = UNSET
    themes: Themes | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    published_on: date | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Publication(Struct):
    """A knowledge product an organisation shares: title, summary, themes, languages and a link."""

    id: UUID
    organisation: str
    title: Annotated[str, Meta(examples=["Guidance note on inclusive ceasefire negotiations"])]
    summary: Annotated[
        str, Meta(examples=["How mediation teams have brought women and civil society into ceasefire talks."])
    ]
    themes: Annotated[list[str], Meta(examples=[["ceasefire_security", "gender_inclusion"]])]
    languages: Annotated[list[str], Meta(examples=[["en", "fr"]])]
    url: Annotated[str, Meta(examples=["https://peacemaker.example.org/guidance/ceasefires"])]
    published_on: date
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class PublicationPage(Struct):
    """A page of publications, with facets counting what matched."""

    items: list[Publication]
    next_cursor: str | None
    total: int
    facets: Facets


# --- digests -------------------------------------------------------------------------------


class DigestFilters(Struct):
    """What a digest looks for, as the searches take it; empty matches everything new."""

    q: Annotated[str, Meta(max_length=200)] | None = None
    organisation: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{1,31}$")] | None = None
    theme: TermId | None = None
    kind: TrainingKind | None = None
    format: Format | None = None
    country: CountryCode | None = None
    language: LanguageCode | None = None
    publications: Annotated[bool, Meta(description="Include new publications too.")] = True


class SubscriptionCreate(Struct):
    """A digest subscription to create: where the digest goes, how often, and what it looks for."""

    email: Annotated[
        Email,
        Meta(
            description="Where the digest goes: a staff member or a role mailbox.",
            examples=["msu@au.example.org"],
        ),
    ]
    period: Period = "weekly"
    filters: DigestFilters = msgspec.field(default_factory=DigestFilters)


class Subscription(Struct):
    """A weekly or monthly digest of what was shared, sent to one address."""

    id: UUID
    organisation: str
    email: Annotated[str, Meta(examples=["msu@au.example.org"])]
    period: Period
    filters: DigestFilters
    created_at: datetime


class SubscriptionPage(Struct):
    """A page of the organisation's digest subscriptions."""

    items: list[Subscription]
    next_cursor: str | None
    total: int
