"""API boundary of the process registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import CountryCode, LongText, Name, Slug, TermId
from msnet.sharing import ShareWith, Sharing

Level = Literal["national", "subnational", "local"]
Track = Literal["1", "1.5", "2"]
Phase = Literal["exploratory", "pre_negotiation", "negotiation", "agreement", "implementation", "suspended"]
Party = Annotated[str, Meta(min_length=2, max_length=200)]
AgreementId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._:/-]{1,40}$")]


class References(Struct):
    """Where the process is known elsewhere: the UCDP conflict id, peace-agreement database ids
    (PA-X, UN Peacemaker)."""

    ucdp_conflict_id: Annotated[int, Meta(ge=1, le=10_000_000)] | None = None
    peace_agreement_ids: Annotated[list[AgreementId], Meta(max_length=50)] = []


Countries = Annotated[list[CountryCode], Meta(max_length=60)]
Parties = Annotated[list[Party], Meta(max_length=40)]
Mediators = Annotated[list[Slug], Meta(max_length=10, description="Lead mediator organisations (slugs).")]


class ProcessCreate(Struct):
    name: Name
    description: LongText = ""
    countries: Countries = []
    region: TermId | None = None
    level: Level = "national"
    track: Track = "1"
    lead_mediators: Mediators = []
    conflict_parties: Parties = []
    phase: Phase = "negotiation"
    references: References = msgspec.field(default_factory=References)
    sharing: Sharing = "network"
    share_with: ShareWith = []


class ProcessUpdate(Struct):
    name: Name | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    countries: Countries | UnsetType = UNSET
    region: TermId | UnsetType | None = UNSET
    level: Level | UnsetType = UNSET
    track: Track | UnsetType = UNSET
    lead_mediators: Mediators | UnsetType = UNSET
    conflict_parties: Parties | UnsetType = UNSET
    phase: Phase | UnsetType = UNSET
    references: References | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class ProcessMerge(Struct):
    into: UUID


class Process(Struct):
    id: UUID
    organisation: str
    name: str
    description: str
    countries: list[str]
    region: str | None
    regions: list[str]
    level: Level
    track: Track
    lead_mediators: list[str]
    conflict_parties: list[str]
    phase: Phase
    references: References
    aliases: list[UUID]
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class ProcessPage(Struct):
    items: list[Process]
    next_cursor: str | None
    total: int


class ProcessRef(Struct):
    id: UUID
    name: str | None  # None when the caller may not see the process
