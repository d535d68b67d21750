"""The roster: experts an organisation can deploy, and their contact details kept apart."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Computed, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, DATEMULTIRANGE, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedColumns, SharedRecord

EXPERT_SEARCH = "msnet_document(name || ' ' || bio || ' ' || msnet_join(affiliations) || ' ' || msnet_join(past_processes))"


class Expert(SharedColumns, SharedRecord, Base):
    """A person on an organisation's roster. Deleting one erases the personal data and keeps a
    tombstone (the id, ``deleted_at``) so references elsewhere still resolve."""

    __tablename__ = "experts"
    __table_args__ = (
        Index(
            "uq_experts_external_id",
            "organisation_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    # the organisation's own reference (its HR system's); shown to the organisation only
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str] = mapped_column(Text, default="")
    seniority: Mapped[str | None] = mapped_column(String(20))
    expertise: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    languages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    language_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    nationalities: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    experience: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # countries and regions
    regions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # derived: M49 regions covered
    availability: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    available: Mapped[Any] = mapped_column(DATEMULTIRANGE, deferred=True)  # derived, for SQL only
    affiliations: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    past_processes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(EXPERT_SEARCH), deferred=True)
    # every pair of a theme, a language and a region, one term each (migration 0012): for SQL only
    term_pairs: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed("msnet_term_pairs(themes, language_codes, regions)"), deferred=True
    )


class ExpertContact(Base):
    """Personal contact details: read only through /v1/experts/{id}/contact, every read audited."""

    __tablename__ = "expert_contacts"

    expert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
