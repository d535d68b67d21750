"""The versions of the records this node holds from its peers (migration 0024)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base


class Replica(Base):
    """A record held from a peer, or deleted there: the newest version applied (a tombstone's when
    ``deleted``), the origin's time of it, and when it arrived here."""

    __tablename__ = "federation_replicas"
    __table_args__ = (Index("ix_federation_replicas_origin", "origin"),)

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    deleted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
