"""The directory: offices and the capacities they offer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Computed, DateTime, ForeignKey, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedColumns, SharedRecord


class Office(SharedColumns, SharedRecord, Base):
    """A mediation support structure inside an organisation."""

    __tablename__ = "offices"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    mandate: Mapped[str] = mapped_column(Text, default="")
    parent_structure: Mapped[str] = mapped_column(String(200), default="")
    staff_size: Mapped[int | None] = mapped_column(Integer)
    role_mailbox: Mapped[str | None] = mapped_column(String(200))
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("msnet_document(name || ' ' || parent_structure || ' ' || mandate)"),
        deferred=True,
    )


class Capacity(SharedColumns, SharedRecord, Base):
    """A service an office offers, where, in which languages, how soon and how often."""

    __tablename__ = "capacities"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    service_type: Mapped[str] = mapped_column(String(60))
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    regions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    lead_time_days: Mapped[int] = mapped_column(Integer)
    concurrent_engagements: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    last_confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed("msnet_document(notes)"), deferred=True)
    #: The M49 areas of its countries it does not name itself (migration 0014): with ``regions``,
    #: every area it covers.
    country_areas: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed("msnet_country_areas(countries, regions)"), deferred=True
    )


class OfficeSearch(Base):
    """An office's search document (migration 0036), written by the database's triggers only: the
    office's text, organisation and sharing, and over its capacities the union of their terms by
    facet, the terms all of them have (``common_*``) and the oldest confirmation. The capacities'
    columns are NULL when some reader of the office may not read every one of its capacities."""

    __tablename__ = "office_search"

    office_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column()
    sharing: Mapped[str] = mapped_column(String(12))
    share_with: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    search: Mapped[Any] = mapped_column(TSVECTOR)
    themes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    service_types: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    languages: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    regions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    countries: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    common_themes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    common_service_types: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    common_languages: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    common_regions: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    common_countries: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    oldest: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
