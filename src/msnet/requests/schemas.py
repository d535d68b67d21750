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
OwnOrganisation = Annotated[
    bool,
    Meta(description="The office is of the requesting organisation (routing may propose its own offices)."),
]
ExcludeOwn = Annotated[
    bool,
    Meta(
        description="Routing (the matches, and `route: best_matches`) leaves out the requesting "
        "organisation's own offices and roster experts. Named addressees are not affected."
    ),
]


class Mandate(Struct):
    """What the support rests on: its kind, and a reference (a resolution's number, a letter)."""

    type: MandateType
    reference: Annotated[str, Meta(max_length=300)] = ""


class RequestCreate(Struct):
    """A support request to draft: the process, the caller's office that asks, what support, when, on what
    mandate, and to whom (`addressees`, or `"route": "best_matches"`)."""

    process_id: UUID
    office_id: Annotated[UUID, Meta(description="The caller's office that asks.")]
    title: Annotated[Name, Meta(examples=["Process design support for the Bangui dialogue follow-up"])]
    service_types: Annotated[list[TermId], Meta(min_length=1, max_length=20, examples=[["process_design"]])]
    period: Period
    mandate: Mandate
    description: Annotated[
        LongText,
        Meta(examples=["Options for including armed movements and women's groups in the follow-up talks."]),
    ] = ""
    themes: Annotated[Terms, Meta(examples=[["national_dialogue", "gender_inclusion"]])] = []
    urgency: Urgency = "routine"
    languages: Annotated[Languages, Meta(examples=[["fr"]])] = []
    route: Route = "named"
    exclude_own_organisation: ExcludeOwn = False
    addressees: Annotated[Addressees, Meta(examples=[["0193f0c1-2d4e-7a10-8b3c-5f6e7d8c9b01"]])] = []
    sharing: RequestSharing = "private"
    share_with: ShareWith = []


class RequestUpdate(Struct):
    """The changes to a request (only the fields sent change), or a transition: `on-hold`, back from it, or
    `in-progress`."""

    process_id: UUID | UnsetType = UNSET
    title: Name | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    service_types: Annotated[list[TermId], Meta(min_length=1, max_length=20)] | UnsetType = UNSET
    themes: Terms | UnsetType = UNSET
    period: Period | UnsetType = UNSET
    urgency: Annotated[Urgency, Meta(examples=["urgent"])] | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    mandate: Mandate | UnsetType = UNSET
    route: Route | UnsetType = UNSET
    exclude_own_organisation: ExcludeOwn | UnsetType = UNSET
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
    """An office a request is addressed to."""

    office_id: UUID
    organisation: str
    office: Annotated[
        str | None, Meta(examples=["Mediation Support Team"])
    ]  # its name, if the caller may see it


class Reason(Struct):
    """One dimension of a match's score, with the points it gave and why."""

    dimension: Annotated[str, Meta(examples=["service_type"])]
    points: Annotated[float, Meta(examples=[30.0])]
    text: Annotated[str, Meta(examples=["offers process design, a requested service type"])]


class Routed(Struct):
    """An office a request was routed to by `best_matches`, with its score and the reasons. The
    requester sees every office routed to; an addressed organisation its own offices only."""

    office_id: UUID
    score: Annotated[float, Meta(examples=[82.5])]
    reasons: list[Reason]
    own_organisation: OwnOrganisation


class Transition(Struct):
    """A change of a request's state: from, to, by which organisation, when, and the note given."""

    from_state: State | None
    to_state: State
    organisation: Annotated[
        str | None,
        Meta(
            description="Who made it; null, for an addressed organisation, when another addressed "
            "organisation did (it is not told who else was asked)."
        ),
    ]
    at: datetime
    note: Annotated[str, Meta(examples=["submitted to the addressees"])]


class SupportRequest(Struct):
    """A support request on a peace process: what is asked, when, on what mandate, to whom, and where it
    stands in its lifecycle (`allowed_transitions` says what can happen next). Seen only by the requesting
    organisation and those addressed."""

    id: UUID
    organisation: str
    office_id: UUID
    process: ProcessRef
    title: Annotated[str, Meta(examples=["Process design support for the Bangui dialogue follow-up"])]
    description: Annotated[
        str,
        Meta(examples=["Options for including armed movements and women's groups in the follow-up talks."]),
    ]
    service_types: Annotated[list[str], Meta(examples=[["process_design"]])]
    themes: Annotated[list[str], Meta(examples=[["national_dialogue", "gender_inclusion"]])]
    period: Period
    urgency: Urgency
    languages: Annotated[list[str], Meta(examples=[["fr"]])]
    mandate: Mandate
    route: Route
    exclude_own_organisation: ExcludeOwn
    addressees: Annotated[
        list[Addressee],
        Meta(
            description="The offices the request went to: all of them for the requester, an addressed "
            "organisation's own for it (never who else was asked)."
        ),
    ]
    routing: list[Routed]
    overlap_cases: Annotated[
        list[UUID] | None,
        Meta(
            description="The overlap cases this request is in, opened or joined when it was submitted "
            "or changed (ids: `GET /v1/overlaps/{id}` says what overlaps). Shown to the requesting "
            "organisation only: null for anyone else."
        ),
    ]
    state: Annotated[State, Meta(examples=["submitted"])]
    allowed_transitions: Annotated[list[State], Meta(examples=[["on-hold", "cancelled"]])]
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
    """A support request with its history of transitions."""

    history: list[Transition]


class RequestPage(Struct):
    """A page of support requests."""

    items: list[SupportRequest]
    next_cursor: str | None
    total: int


class ResponseCreate(Struct):
    """An addressed office's answer to a request: an offer (experts, period, note) or a decline (reason)."""

    office_id: Annotated[UUID, Meta(description="The caller's addressed office that answers.")]
    kind: Literal["offer", "decline"]
    experts: Annotated[list[UUID], Meta(max_length=20, description="Proposed roster experts (offers).")] = []
    period: Period | None = None
    note: Annotated[Note, Meta(examples=["Two process design advisers available, one francophone."])] = ""
    reason: Annotated[str, Meta(max_length=2000, description="Why, for a decline.")] = ""


class RequestResponse(Struct):
    """An office's offer or decline on a request, and whether the requester accepted it."""

    id: UUID
    request_id: UUID
    organisation: str
    office_id: UUID
    kind: Literal["offer", "decline"]
    experts: list[UUID]
    period: Period | None
    note: Annotated[str, Meta(examples=["Two process design advisers available, one francophone."])]
    reason: Annotated[str, Meta(examples=[""])]
    status: Literal["open", "accepted", "not_selected"]
    version: int
    created_at: datetime
    updated_at: datetime


class ResponsePage(Struct):
    """A page of responses to a request."""

    items: list[RequestResponse]
    next_cursor: str | None
    total: int


class OfficeMatch(Struct):
    """An office ranked against a request by its best capacity: the score out of 100 and the reasons."""

    office_id: UUID
    office: Annotated[str, Meta(examples=["Mediation Support Team"])]
    organisation: Annotated[str, Meta(examples=["eu"])]
    capacity_id: UUID
    score: Annotated[float, Meta(examples=[82.5])]
    reasons: list[Reason]
    own_organisation: OwnOrganisation


class ExpertMatch(Struct):
    """A roster expert ranked against a request, with the reasons; possible conflicts of interest are
    flagged, never hidden."""

    expert_id: UUID
    name: Annotated[str, Meta(examples=["Aïssatou Diallo"])]
    organisation: Annotated[str, Meta(examples=["eu"])]
    score: Annotated[float, Meta(examples=[77.5])]
    reasons: list[Reason]
    conflicts_of_interest: Annotated[list[str], Meta(examples=[[]])]


class Matches(Struct):
    """Offices and roster experts ranked against a request."""

    request_id: UUID
    offices: list[OfficeMatch]
    experts: list[ExpertMatch]
