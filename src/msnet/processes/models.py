"""The registry of peace processes: what requests refer to, and what makes deconfliction possible."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Computed, DateTime, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedColumns, SharedRecord

PROCESS_SEARCH = "msnet_document(name || ' ' || description || ' ' || msnet_join(conflict_parties))"


class Process(SharedColumns, SharedRecord, Base):
    """A peace process. A duplicate is merged into another: ``merged_into`` keeps it as an alias."""

    __tablename__ = "processes"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))  # who proposed it
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    region: Mapped[str | None] = mapped_column(String(60))
    regions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # derived: every region covered
    level: Mapped[str] = mapped_column(String(12))
    track: Mapped[str] = mapped_column(String(4))
    lead_mediators: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
    conflict_parties: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    phase: Mapped[str] = mapped_column(String(20))
    ucdp_conflict_id: Mapped[int | None] = mapped_column(Integer)
    peace_agreement_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("processes.id"))
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(PROCESS_SEARCH), deferred=True)
