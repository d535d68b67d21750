"""API boundary of support requests, their responses, routing and the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import LanguageCode, LongText, Name, Period, TermId
from msnet.processes.schemas import ProcessRef
from msnet.sharing import ShareWith

State = Literal[
    "draft",
    "submitted",
    "on-hold",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "completed",
    "cancelled",
]
Urgency = Literal["routine", "urgent", "asap"]
MandateType = Literal[
    "security_council_resolution",
    "general_assembly_resolution",
    "regional_council_decision",
    "organisation_decision",
    "host_state_request",
    "parties_consent",
    "other",
]
Route = Literal["named", "best_matches"]
RequestSharing = Literal["private", "restricted"]
Modality = Literal["remote", "in_person", "both"]
Terms = Annotated[list[TermId], Meta(max_length=20)]
Languages = Annotated[list[LanguageCode], Meta(max_length=10)]
Addressees = Annotated[list[UUID], Meta(max_length=20, description="Office ids the request goes to.")]
Note = Annotated[str, Meta(max_length=2000)]


class Mandate(Struct):
    """What the support rests on: its kind, and a reference (a resolution's number, a letter)."""

    type: MandateType
    reference: Annotated[str, Meta(max_length=300)] = ""


class RequestCreate(Struct):
    process_id: UUID
    office_id: Annotated[UUID, Meta(description="The caller's office that asks.")]
    title: Name
    service_types: Annotated[list[TermId], Meta(min_length=1, max_length=20)]
    period: Period
    mandate: Mandate
    description: LongText = ""
    themes: Terms = []
    urgency: Urgency = "routine"
    languages: Languages = []
    route: Route = "named"
    addressees: Addressees = []
    sharing: RequestSharing = "private"
    share_with: ShareWith = []


class RequestUpdate(Struct):
    process_id: UUID | UnsetType = UNSET
    title: Name | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    service_types: Annotated[list[TermId], Meta(min_length=1, max_length=20)] | UnsetType = UNSET
    themes: Terms | UnsetType = UNSET
    period: Period | UnsetType = UNSET
    urgency: Urgency | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    mandate: Mandate | UnsetType = UNSET
    route: Route | UnsetType = UNSET
    addressees: Addressees | UnsetType = UNSET
    sharing: RequestSharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET
    state: (
        Annotated[
            State,
            Meta(
                description="`on-hold`, back from it, or `in-progress`; other changes have their own calls."
            ),
        ]
        | UnsetType
    ) = UNSET


class Outcome(Struct):
    """How a request ended, recorded when it is closed."""

    delivered: bool
    modality: Modality | None = None
    reason: Annotated[str, Meta(max_length=2000, description="Why not, when not delivered.")] = ""
    note: Annotated[str, Meta(max_length=2000, description="A short after-action note.")] = ""


class Addressee(Struct):
    office_id: UUID
    organisation: str
    office: str | None  # the office's name, when the caller may see it


class Reason(Struct):
    dimension: str
    points: float
    text: str


class Routed(Struct):
    office_id: UUID
    score: float
    reasons: list[Reason]


class Transition(Struct):
    from_state: State | None
    to_state: State
    organisation: str
    at: datetime
    note: str


class SupportRequest(Struct):
    id: UUID
    organisation: str
    office_id: UUID
    process: ProcessRef
    title: str
    description: str
    service_types: list[str]
    themes: list[str]
    period: Period
    urgency: Urgency
    languages: list[str]
    mandate: Mandate
    route: Route
    addressees: list[Addressee]
    routing: list[Routed]
    state: State
    allowed_transitions: list[State]
    outcome: Outcome | None
    submitted_at: datetime | None
    closed_at: datetime | None
    sharing: RequestSharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class RequestDetail(SupportRequest):
    history: list[Transition]


class RequestPage(Struct):
    items: list[SupportRequest]
    next_cursor: str | None
    total: int


class ResponseCreate(Struct):
    office_id: Annotated[UUID, Meta(description="The caller's addressed office that answers.")]
    kind: Literal["offer", "decline"]
    experts: Annotated[list[UUID], Meta(max_length=20, description="Proposed roster experts (offers).")] = []
    period: Period | None = None
    note: Note = ""
    reason: Annotated[str, Meta(max_length=2000, description="Why, for a decline.")] = ""


class RequestResponse(Struct):
    id: UUID
    request_id: UUID
    organisation: str
    office_id: UUID
    kind: Literal["offer", "decline"]
    experts: list[UUID]
    period: Period | None
    note: str
    reason: str
    status: Literal["open", "accepted", "not_selected"]
    version: int
    created_at: datetime
    updated_at: datetime


class ResponsePage(Struct):
    items: list[RequestResponse]
    next_cursor: str | None
    total: int


class OfficeMatch(Struct):
    office_id: UUID
    office: str
    organisation: str
    capacity_id: UUID
    score: float
    reasons: list[Reason]


class ExpertMatch(Struct):
    expert_id: UUID
    name: str
    organisation: str
    score: float
    reasons: list[Reason]
    conflicts_of_interest: list[str]


class Matches(Struct):
    request_id: UUID
    offices: list[OfficeMatch]
    experts: list[ExpertMatch]
