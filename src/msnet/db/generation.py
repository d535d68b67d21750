"""The database's generation (migration 0035): changed by triggers at the commit of every write a
cached read could show, read by ``msnet.auth.cache``; never written by the service."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, Identity
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base


class ReadGeneration(Base):
    """The one row: ``value``, a new random UUID at each such commit."""

    __tablename__ = "read_generation"

    only_row: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    value: Mapped[uuid.UUID]


class ReadGenerationMark(Base):
    """A transaction's mark that it wrote a tracked table, removed at its commit."""

    __tablename__ = "read_generation_marks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
