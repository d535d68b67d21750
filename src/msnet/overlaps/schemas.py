"""API boundary of deconfliction: overlap cases, their messages, sharing and resolution."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import Period
from msnet.processes.schemas import ProcessRef

Status = Literal["open", "resolved"]
Dimension = Literal["process", "period", "service_types", "themes"]
Kind = Literal["coordinate", "complementary", "merge", "withdraw", "not_an_overlap"]
Text = Annotated[str, Meta(max_length=4000)]


class Member(Struct):
    """A request in the case. Only its owner sees ``request_id``; its ``description`` shows only
    once the owner has shared it into the case."""

    position: Annotated[int, Meta(description="The member's number within the case.")]
    organisation: str
    parties: Annotated[list[str], Meta(description="The requesting and the addressed organisations.")]
    request_id: UUID | None
    shared: bool
    description: Annotated[
        str | None,
        Meta(examples=["Options for including armed movements and women's groups in the follow-up talks."]),
    ]


class PairExplanation(Struct):
    """Two members that matched, and on what."""

    members: list[int]
    dimensions: list[Dimension]
    period: Period
    service_types: list[str]
    themes: list[str]


class Proposal(Struct):
    """A proposed resolution of an overlap case, who agreed to it and whom it awaits."""

    id: UUID
    kind: Kind
    proposed_by: Annotated[str, Meta(examples=["au"])]
    lead_office_id: UUID | None
    member: int | None
    note: Annotated[
        str, Meta(examples=["The AU team leads the process design work; the EU supports on inclusion."])
    ]
    status: Literal["open", "agreed", "superseded"]
    agreed_by: Annotated[list[str], Meta(examples=[["au"]])]
    awaiting: Annotated[list[str], Meta(examples=[["eu"]])]
    created_at: datetime
    decided_at: datetime | None


class OverlapCase(Struct):
    """What the parties learn: that the overlap exists, who they are, the process, the overlapping
    period, service types and themes, and which dimensions overlapped."""

    id: UUID
    status: Status
    process: ProcessRef
    organisations: list[str]
    period: Period
    service_types: list[str]
    themes: list[str]
    dimensions: list[Dimension]
    explanation: list[PairExplanation]
    members: list[Member]
    proposal: Annotated[Proposal | None, Meta(description="The open proposal, if any.")]
    resolution: Annotated[Proposal | None, Meta(description="The proposal every party agreed to.")]
    resolved_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class OverlapPage(Struct):
    """A page of overlap cases."""

    items: list[OverlapCase]
    next_cursor: str | None
    total: int


class MessageCreate(Struct):
    """A message to the other parties of an overlap case."""

    body: Annotated[
        str,
        Meta(min_length=1, max_length=4000, examples=["Could our teams speak this week to divide the work?"]),
    ]


class Message(Struct):
    """A message between the parties of an overlap case."""

    id: UUID
    case_id: UUID
    organisation: str
    body: Annotated[str, Meta(examples=["Could our teams speak this week to divide the work?"])]
    created_at: datetime


class MessagePage(Struct):
    """A page of messages, oldest first."""

    items: list[Message]
    next_cursor: str | None
    total: int


class Share(Struct):
    """Share (or stop sharing) one of the caller's requests' description into the case."""

    request_id: UUID
    shared: bool = True


class Resolution(Struct):
    """Either a proposal (``kind`` and what it needs) or an agreement (``agree``: a proposal's id).

    - ``coordinate``: ``lead_office_id``, an office of one of the parties, leads; the others support;
    - ``complementary``: ``note`` says each one's scope; they proceed separately;
    - ``merge``: the requests are combined into one;
    - ``withdraw``: ``member`` (its position) is withdrawn when every party agreed;
    - ``not_an_overlap``: the pairs of this case are never matched again.
    """

    kind: Kind | UnsetType = UNSET
    lead_office_id: UUID | None = None
    member: Annotated[int, Meta(ge=1)] | None = None
    note: Text = ""
    agree: UUID | None = None
