"""Declarative base, ids and the columns every shared record carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import uuid_utils.compat
from sqlalchemy import DateTime, Integer, MetaData, String, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A time-ordered UUID (v7), made by the application so ids stay unique across federated nodes."""
    return uuid_utils.compat.uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SharedRecord:
    """Columns of every record that may travel between nodes."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    origin: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SharedColumns:
    """``sharing`` (private, restricted, network, public) and ``share_with`` (organisation ids)."""

    sharing: Mapped[str] = mapped_column(String(12))
    share_with: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), default=list)
