"""API boundary of the directory: offices and capacities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import CountryCode, Email, LanguageCode, LongText, Name, TermId, Terms
from msnet.sharing import ShareWith, Sharing


class OfficeCreate(Struct):
    name: Name
    mandate: LongText = ""
    parent_structure: Annotated[str, Meta(max_length=200)] = ""
    staff_size: Annotated[int, Meta(ge=0, le=10_000)] | None = None
    role_mailbox: Email | None = None
    sharing: Sharing = "network"
    share_with: ShareWith = []


class OfficeUpdate(Struct):
    name: Name | UnsetType = UNSET
    mandate: LongText | UnsetType = UNSET
    parent_structure: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    staff_size: Annotated[int, Meta(ge=0, le=10000)] | UnsetType | None = UNSET
    role_mailbox: Email | UnsetType | None = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Office(Struct):
    id: UUID
    organisation: str
    name: str
    mandate: str
    parent_structure: str
    staff_size: int | None
    role_mailbox: str | None
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class CapacityCreate(Struct):
    service_type: TermId
    themes: Terms = []
    countries: Annotated[list[CountryCode], Meta(max_length=250)] = []
    regions: Terms = []
    languages: Annotated[list[LanguageCode], Meta(max_length=40)] = []
    lead_time_days: Annotated[int, Meta(ge=0, le=365)] = 14
    concurrent_engagements: Annotated[int, Meta(ge=0, le=100)] = 1
    notes: LongText = ""
    sharing: Sharing = "network"
    share_with: ShareWith = []


class CapacityUpdate(Struct):
    service_type: TermId | UnsetType = UNSET
    themes: Terms | UnsetType = UNSET
    countries: Annotated[list[CountryCode], Meta(max_length=250)] | UnsetType = UNSET
    regions: Terms | UnsetType = UNSET
    languages: Annotated[list[LanguageCode], Meta(max_length=40)] | UnsetType = UNSET
    lead_time_days: Annotated[int, Meta(ge=0, le=365)] | UnsetType = UNSET
    concurrent_engagements: Annotated[int, Meta(ge=0, le=100)] | UnsetType = UNSET
    notes: LongText | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Capacity(Struct):
    id: UUID
    organisation: str
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
    stale: Annotated[bool, Meta(description="Not re-confirmed for 180 days: shown, but ranked lower.")]
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


Facets = dict[str, dict[str, int]]


class OfficePage(Struct):
    items: list[Office]
    next_cursor: str | None
    total: int
    facets: Facets


class CapacityPage(Struct):
    items: list[Capacity]
    next_cursor: str | None
    total: int
    facets: Facets
