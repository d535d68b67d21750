"""What the reports read: one row of figures per request and party (``report_facts``), and the
network's figures per quarter and dimension value (``report_cells``), both kept by
``msnet_report_refresh`` (migration 0023) from the requests marked in ``report_dirty``."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import DateTime, Float, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base


class ReportDirty(Base):
    """A request changed since the facts were last computed: written by triggers on requests,
    responses and processes, consumed by the refresh."""

    __tablename__ = "report_dirty"

    request_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportFact(Base):
    """One submitted request as one party saw it: the requester (``side`` 'asked', the requesting
    office) or an addressed organisation (``side`` 'received': its offices the request went to, their
    answers together). Row-level security: an organisation reads its own rows only."""

    __tablename__ = "report_facts"

    request_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    side: Mapped[str] = mapped_column(String(8), primary_key=True)  # asked | received
    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    office_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    process_id: Mapped[uuid.UUID] = mapped_column(Uuid())  # the process it was merged into, if any
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    service_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    regions: Mapped[list[str]] = mapped_column(ARRAY(Text))
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text))
    outcome: Mapped[str] = mapped_column(
        String(16)
    )  # delivered | not_delivered | rejected | cancelled | open
    reason: Mapped[str] = mapped_column(Text)  # why not delivered
    offers: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)  # offers accepted
    declines: Mapped[int] = mapped_column(Integer)
    experts: Mapped[int] = mapped_column(Integer)  # expert places in accepted offers
    first_response: Mapped[float | None] = mapped_column(Float)  # seconds from submission
    acceptance: Mapped[float | None] = mapped_column(Float)  # seconds from submission to acceptance


class ReportCell(Base):
    """The network's figures for one quarter and one value of a dimension (``total``, ``theme``,
    ``region``, ``service_type``; key '' for the total and for requests without a value), over every
    organisation's requests. Read through the disclosure rule only (``reports.service``)."""

    __tablename__ = "report_cells"

    quarter: Mapped[date] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    largest: Mapped[int] = mapped_column(Integer)  # requests of the organisation that asked most
    offers: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    not_delivered: Mapped[int] = mapped_column(Integer)
    declines: Mapped[int] = mapped_column(Integer)
    experts: Mapped[int] = mapped_column(Integer)
    first_response_median: Mapped[float | None] = mapped_column(Float)
    first_response_p90: Mapped[float | None] = mapped_column(Float)
    acceptance_median: Mapped[float | None] = mapped_column(Float)
    acceptance_p90: Mapped[float | None] = mapped_column(Float)


class ReportState(Base):
    """One row: the generation of the figures, new (random) at each refresh that changed anything."""

    __tablename__ = "report_state"

    generation: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
