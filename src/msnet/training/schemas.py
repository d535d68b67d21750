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
    title: Title
    kind: TrainingKind
    format: Format
    start: Instant
    end: Instant
    time_zone: TimeZone
    description: LongText = ""
    themes: Themes = []
    city: City | None = None
    country: CountryCode | None = None
    application_deadline: Instant | None = None
    seats: Seats | None = None
    languages: Languages = []
    audience: AudienceList = []
    cost: Cost = ""
    apply_url: Url | None = None
    apply_email: Email | None = None
    sharing: Sharing = "network"
    share_with: ShareWith = []


class TrainingUpdate(Struct):
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
    seats: Seats | UnsetType | None = UNSET
    languages: Languages | UnsetType = UNSET
    audience: AudienceList | UnsetType = UNSET
    cost: Cost | UnsetType = UNSET
    apply_url: Url | UnsetType | None = UNSET
    apply_email: Email | UnsetType | None = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Training(Struct):
    id: UUID
    organisation: str
    title: str
    description: str
    kind: TrainingKind
    themes: list[str]
    format: Format
    city: str | None
    country: str | None
    start: datetime
    end: datetime
    time_zone: str
    application_deadline: datetime | None
    seats: int | None
    languages: list[str]
    audience: list[Audience]
    cost: str
    apply_url: str | None
    apply_email: str | None
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


Facets = dict[str, dict[str, int]]


class TrainingPage(Struct):
    items: list[Training]
    next_cursor: str | None
    total: int
    facets: Facets


class PublicationCreate(Struct):
    title: Annotated[str, Meta(min_length=2, max_length=300)]
    url: Url
    published_on: date
    summary: LongText = ""
    themes: Themes = []
    languages: Languages = []
    sharing: Sharing = "network"
    share_with: ShareWith = []


class PublicationUpdate(Struct):
    title: Annotated[str, Meta(min_length=2, max_length=300)] | UnsetType = UNSET
    summary: LongText | UnsetType = UNSET
    themes: Themes | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    published_on: date | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Publication(Struct):
    id: UUID
    organisation: str
    title: str
    summary: str
    themes: list[str]
    languages: list[str]
    url: str
    published_on: date
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class PublicationPage(Struct):
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
    email: Annotated[Email, Meta(description="Where the digest goes: a staff member or a role mailbox.")]
    period: Period = "weekly"
    filters: DigestFilters = msgspec.field(default_factory=DigestFilters)


class Subscription(Struct):
    id: UUID
    organisation: str
    email: str
    period: Period
    filters: DigestFilters
    created_at: datetime


class SubscriptionPage(Struct):
    items: list[Subscription]
    next_cursor: str | None
    total: int
