"""The database's generation (migration 0035): changed by triggers at the commit of every write a
cached read could show, read by ``msnet.auth.cache``; never written by the service."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy import BigInteger, Boolean, Identity
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base


async def renew(conn: asyncpg.Connection) -> None:
    """A new generation, after a restore or a migration (which change data or schema without a row
    trigger, or carry an old value), if the schema has one yet."""
    await conn.execute(
        "DO $$ BEGIN IF to_regclass('read_generation') IS NOT NULL THEN "
        "UPDATE read_generation SET value = gen_random_uuid(); END IF; END $$"
    )


class ReadGeneration(Base):
    """The one row: ``value``, a new random UUID at each such commit."""

    __tablename__ = "read_generation"

    only_row: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    value: Mapped[uuid.UUID]


class ReadGenerationMark(Base):
    """A transaction's mark that it wrote a tracked table, removed at its commit."""

    __tablename__ = "read_generation_marks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
