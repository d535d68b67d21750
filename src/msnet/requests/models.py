"""Support requests on a process, their lifecycle, and the offices' responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Computed, Date, DateTime, ForeignKey, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, DATERANGE, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedColumns, SharedRecord, new_id


class SupportRequest(SharedColumns, SharedRecord, Base):
    """An ask for support on a process. Its details are visible to the requesting organisation, the
    organisations it is addressed to, and those a ``restricted`` request is shared with: no one else,
    whatever scopes they hold (row-level security says so too)."""

    __tablename__ = "requests"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"))  # the requesting office
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    period: Mapped[Any] = mapped_column(DATERANGE, Computed("daterange(period_start, period_end, '[]')"))
    urgency: Mapped[str] = mapped_column(String(12))
    mandate_type: Mapped[str] = mapped_column(String(40))
    mandate_reference: Mapped[str] = mapped_column(String(300), default="")
    route: Mapped[str] = mapped_column(String(12))  # named | best_matches
    exclude_own_organisation: Mapped[bool] = mapped_column(Boolean, default=False)  # from routing
    addressee_offices: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    addressee_orgs: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    declined_offices: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    routing: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # why each office was chosen
    state: Mapped[str] = mapped_column(String(12), default="draft")
    held_from: Mapped[str | None] = mapped_column(String(12))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RequestEvent(Base):
    """One transition of a request's state: who, when, from what to what."""

    __tablename__ = "request_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))  # who made it
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RequestResponse(SharedRecord, Base):
    """An addressed office's answer: an offer (experts, dates) or a decline with a reason. Seen by
    the responding organisation and the requester only."""

    __tablename__ = "request_responses"

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))  # the responder
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"))
    kind: Mapped[str] = mapped_column(String(8))  # offer | decline
    expert_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | accepted | not_selected


class RequestBurst(Base):
    """One submit or withdraw attempt by an actor (a client, a person or a node): the burst limit
    counts these."""

    __tablename__ = "request_bursts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
