"""Training opportunities and knowledge products organisations share, and digest subscriptions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Computed, Date, DateTime, ForeignKey, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedColumns, SharedRecord, new_id

TRAINING_SEARCH = "msnet_document(title || ' ' || description || ' ' || coalesce(city, ''))"
PUBLICATION_SEARCH = "msnet_document(title || ' ' || summary)"


class Training(SharedColumns, SharedRecord, Base):
    """A course, workshop, exchange visit, retreat or webinar an organisation organises and shares."""

    __tablename__ = "trainings"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    format: Mapped[str] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    regions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # derived from the country
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_zone: Mapped[str] = mapped_column(String(64))
    application_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seats: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    audience: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    cost: Mapped[str] = mapped_column(String(300), default="")
    apply_url: Mapped[str | None] = mapped_column(String(500))
    apply_email: Mapped[str | None] = mapped_column(String(200))
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(TRAINING_SEARCH), deferred=True)


class Publication(SharedColumns, SharedRecord, Base):
    """A knowledge product: a guidance note, study, handbook or lessons-learned paper."""

    __tablename__ = "publications"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    url: Mapped[str] = mapped_column(String(500))
    published_on: Mapped[date] = mapped_column(Date)
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(PUBLICATION_SEARCH), deferred=True)


class Subscription(Base):
    """A weekly or monthly digest of new trainings and publications matching saved filters, sent to one
    address (a staff member's, or an office's role mailbox) on behalf of its organisation."""

    __tablename__ = "digest_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DigestRun(Base):
    """One digest of one subscription for one period: the row that makes it go out once, however
    many workers try (inserted with ON CONFLICT DO NOTHING in the transaction that queues the mail)."""

    __tablename__ = "digest_runs"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    items: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
