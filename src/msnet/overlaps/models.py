"""Overlap cases and what hangs off them. Every row is visible to the case's parties only (forced
row-level security); cases and members are written by detection alone (migrations 0009 and 0027), or,
for a case another node coordinates, by its mirror (``msnet_overlap_mirror``). A member may be
another node's request, named by its opaque reference (``OverlapMember.node``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, new_id


class OverlapCase(Base):
    """Two or more open requests of different organisations on one process whose periods and
    service types or themes intersect. ``parties``: the requesting and addressed organisations of
    every member; the period, service types and themes are the union of the pairs' intersections."""

    __tablename__ = "overlap_cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.id"))
    status: Mapped[str] = mapped_column(String(10))  # open | resolved
    parties: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the issuer of the node that coordinates the case, when another node does (this one holds a mirror)
    coordinator: Mapped[str | None] = mapped_column(Text)
    #: on the coordinator: the parties homed elsewhere whose node said the case is settled
    settled_by: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)


class OverlapMember(Base):
    """A request in a case, numbered by ``position`` within it. ``description`` is empty until the
    request's owner shares it into the case."""

    __tablename__ = "overlap_members"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("overlap_cases.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: a request of this node, or another node's opaque reference for one of its requests
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    parties: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    description: Mapped[str | None] = mapped_column(Text)
    shared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the issuer of the node holding the request (NULL: this node)
    node: Mapped[str | None] = mapped_column(Text)


class OverlapPair(Base):
    """Two member requests that matched, and on what: the explanation of a case."""

    __tablename__ = "overlap_pairs"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("overlap_cases.id"), primary_key=True)
    request_a: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    request_b: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text))


class OverlapMessage(Base):
    __tablename__ = "overlap_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("overlap_cases.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    actor: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OverlapProposal(Base):
    """A resolution one party proposed; ``agreed_by`` grows until every party is in it."""

    __tablename__ = "overlap_proposals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("overlap_cases.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    lead_office_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offices.id"))
    member: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | agreed | superseded
    agreed_by: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OverlapDismissal(Base):
    """A pair of requests the parties agreed is not an overlap: detection never matches it again."""

    __tablename__ = "overlap_dismissals"

    request_a: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    request_b: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("overlap_cases.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OverlapFact(Base):
    """On a process's home node (its coordinator): what another node told of one of its open requests
    on the process, and nothing more: the requesting organisation, the period, the service types and
    an opaque reference. ``step`` grows with each telling; an older one is ignored."""

    __tablename__ = "overlap_facts"

    reference: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    peer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("peers.id", ondelete="CASCADE"))
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    step: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OverlapReference(Base):
    """On a requester's node: the opaque reference one of its requests has in the cases of the node
    coordinating its process, and the last ``step`` told there."""

    __tablename__ = "overlap_references"

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    reference: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    coordinator: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
