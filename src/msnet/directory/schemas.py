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
    """A new mediation support office of the caller's organisation."""

    name: Annotated[Name, Meta(examples=["Mediation Support Unit"])]
    mandate: Annotated[
        LongText,
        Meta(
            examples=[
                "Supports the preventive diplomacy and mediation of the Chairperson of the Commission and AU "
                "special envoys: process design, technical experts for mediation teams, envoy briefings."
            ]
        ),
    ] = ""
    parent_structure: Annotated[
        str,
        Meta(
            max_length=200,
            examples=["Conflict Management Directorate, Political Affairs, Peace and Security"],
        ),
    ] = ""
    staff_size: Annotated[int, Meta(ge=0, le=10_000, examples=[9])] | None = None
    role_mailbox: Annotated[Email | None, Meta(examples=["msu@au.example.org"])] = None
    sharing: Sharing = "network"
    share_with: ShareWith = []


class OfficeUpdate(Struct):
    """The changes to an office: only the fields sent change."""

    name: Name | UnsetType = UNSET
    mandate: LongText | UnsetType = UNSET
    parent_structure: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    staff_size: Annotated[int, Meta(ge=0, le=10000, examples=[11])] | UnsetType | None = UNSET
    role_mailbox: Email | UnsetType | None = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Office(Struct):
    """A mediation support office: a structure of an organisation that supports its envoys and mediators (a
    mediation support unit, a division, a liaison office)."""

    id: UUID
    organisation: str
    name: Annotated[str, Meta(examples=["Mediation Support Unit"])]
    mandate: Annotated[
        str,
        Meta(
            examples=[
                "Supports the preventive diplomacy and mediation of the Chairperson of the Commission and AU special envoys."
            ]
        ),
    ]
    parent_structure: Annotated[
        str, Meta(examples=["Conflict Management Directorate, Political Affairs, Peace and Security"])
    ]
    staff_size: Annotated[int | None, Meta(examples=[9])]
    role_mailbox: Annotated[str | None, Meta(examples=["msu@au.example.org"])]
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class CapacityCreate(Struct):
    """A service a new capacity of the office offers: a service type from the taxonomy, themes, the countries
    and regions it covers, languages, lead time and how many engagements it can take at once."""

    service_type: Annotated[TermId, Meta(examples=["process_design"])]
    themes: Annotated[Terms, Meta(examples=[["national_dialogue", "power_sharing"]])] = []
    countries: Annotated[list[CountryCode], Meta(max_length=250, examples=[["SD", "SS", "CF"]])] = []
    regions: Annotated[Terms, Meta(examples=[["africa"]])] = []
    languages: Annotated[list[LanguageCode], Meta(max_length=40, examples=[["en", "fr", "ar"]])] = []
    lead_time_days: Annotated[int, Meta(ge=0, le=365)] = 14
    concurrent_engagements: Annotated[int, Meta(ge=0, le=100)] = 1
    notes: Annotated[
        LongText,
        Meta(
            examples=["Process design advice to AU-led and co-led processes: formats, sequencing, inclusion."]
        ),
    ] = ""
    sharing: Sharing = "network"
    share_with: ShareWith = []


class CapacityUpdate(Struct):
    """The changes to a capacity: only the fields sent change."""

    service_type: TermId | UnsetType = UNSET
    themes: Terms | UnsetType = UNSET
    countries: Annotated[list[CountryCode], Meta(max_length=250)] | UnsetType = UNSET
    regions: Terms | UnsetType = UNSET
    languages: Annotated[list[LanguageCode], Meta(max_length=40)] | UnsetType = UNSET
    lead_time_days: Annotated[int, Meta(ge=0, le=365)] | UnsetType = UNSET
    concurrent_engagements: Annotated[int, Meta(ge=0, le=100, examples=[2])] | UnsetType = UNSET
    notes: LongText | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Capacity(Struct):
    """A service an office offers, with what it covers; `stale` when not re-confirmed for 180 days."""

    id: UUID
    organisation: str
    office_id: UUID
    office: Annotated[
        str | None,
        Meta(
            description="The office's name; null when the caller may not see the office itself.",
            examples=["Mediation Support Unit"],
        ),
    ]
    service_type: Annotated[str, Meta(examples=["process_design"])]
    themes: Annotated[list[str], Meta(examples=[["national_dialogue", "power_sharing"]])]
    countries: Annotated[list[str], Meta(examples=[["SD", "SS", "CF"]])]
    regions: Annotated[list[str], Meta(examples=[["africa"]])]
    languages: Annotated[list[str], Meta(examples=[["en", "fr", "ar"]])]
    lead_time_days: Annotated[int, Meta(examples=[14])]
    concurrent_engagements: Annotated[int, Meta(examples=[3])]
    notes: Annotated[
        str,
        Meta(
            examples=["Process design advice to AU-led and co-led processes: formats, sequencing, inclusion."]
        ),
    ]
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
    """A page of offices, with facets counting what matched by theme, service type, language, region and
    organisation."""

    items: list[Office]
    next_cursor: str | None
    total: int
    facets: Facets


class CapacityPage(Struct):
    """A page of capacities, with facets counting what matched."""

    items: list[Capacity]
    next_cursor: str | None
    total: int
    facets: Facets
