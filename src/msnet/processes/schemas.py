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
    """A peace process to register: where, at what level and track, who leads the mediation, the parties and
    its phase."""

    name: Annotated[
        Name, Meta(examples=["Central African Republic: political dialogue with the armed groups"])
    ]
    description: Annotated[
        LongText, Meta(examples=["Follow-up of the 2019 Political Agreement for Peace and Reconciliation."])
    ] = ""
    countries: Annotated[Countries, Meta(examples=[["CF"]])] = []
    region: TermId | None = None
    level: Level = "national"
    track: Track = "1"
    lead_mediators: Annotated[Mediators, Meta(examples=[["au", "eccas"]])] = []
    conflict_parties: Annotated[
        Parties,
        Meta(
            examples=[
                ["Government of the Central African Republic", "Coalition des patriotes pour le changement"]
            ]
        ),
    ] = []
    phase: Phase = "negotiation"
    references: References = msgspec.field(default_factory=References)
    sharing: Sharing = "network"
    share_with: ShareWith = []


class ProcessUpdate(Struct):
    """The changes to a process: only the fields sent change."""

    name: Name | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    countries: Countries | UnsetType = UNSET
    region: TermId | UnsetType | None = UNSET
    level: Level | UnsetType = UNSET
    track: Track | UnsetType = UNSET
    lead_mediators: Mediators | UnsetType = UNSET
    conflict_parties: Parties | UnsetType = UNSET
    phase: Annotated[Phase, Meta(examples=["implementation"])] | UnsetType = UNSET
    references: References | UnsetType = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class ProcessMerge(Struct):
    """The process a duplicate is merged into."""

    into: UUID


class Process(Struct):
    """A peace process being supported: requests refer to it, which is what makes deconfliction possible.
    Merged duplicates are listed in `aliases`."""

    id: UUID
    organisation: str
    name: Annotated[
        str, Meta(examples=["Central African Republic: political dialogue with the armed groups"])
    ]
    description: Annotated[
        str, Meta(examples=["Follow-up of the 2019 Political Agreement for Peace and Reconciliation."])
    ]
    countries: Annotated[list[str], Meta(examples=[["CF"]])]
    region: Annotated[str | None, Meta(examples=["middle_africa"])]
    regions: Annotated[list[str], Meta(examples=[["africa", "sub_saharan_africa", "middle_africa"]])]
    level: Level
    track: Track
    lead_mediators: Annotated[list[str], Meta(examples=[["au", "eccas"]])]
    conflict_parties: Annotated[
        list[str],
        Meta(
            examples=[
                ["Government of the Central African Republic", "Coalition des patriotes pour le changement"]
            ]
        ),
    ]
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
    """A page of processes."""

    items: list[Process]
    next_cursor: str | None
    total: int


class ProcessRef(Struct):
    """A process a record refers to: its id, and its name when the caller may see it."""

    id: UUID
    name: Annotated[
        str | None, Meta(examples=["Central African Republic: political dialogue with the armed groups"])
    ]
