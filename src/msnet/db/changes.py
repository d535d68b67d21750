"""The change log and tombstones (migration 0015, written by a trigger), and the log's reader."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    Text,
    Uuid,
    cast,
    func,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from msnet.db.base import Base

MAX_SEQ = 2**63 - 1


class Change(Base):
    """What one write did to a shared record: an ``upsert`` (created, or a new version or sharing) or a
    ``delete``, at ``version``, in transaction ``txid``; ``seq`` orders the rows of a transaction."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_txid", "txid", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("pg_current_xact_id()::text::bigint"))
    kind: Mapped[str] = mapped_column(Text)
    record_id: Mapped[uuid.UUID]
    organisation_id: Mapped[uuid.UUID]
    op: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    sharing: Mapped[str] = mapped_column(Text)
    share_with: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    origin: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Tombstone(Base):
    """A deleted record (or an erased expert): kept so that no older copy brings it back."""

    __tablename__ = "tombstones"

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID]
    origin: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    sharing: Mapped[str] = mapped_column(Text)
    share_with: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Position(NamedTuple):
    """Where a reader is in the log: every change at or before (txid, seq) has been read."""

    txid: int
    seq: int


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    next: Position


_HORIZON = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


async def read_changes(session: AsyncSession, after: Position | None, limit: int) -> ChangePage:
    """The next ``limit`` changes after ``after`` (from the start when None), in (txid, seq) order.

    Transactions do not commit in the order of their ids: a change of transaction 100 may commit
    after one of transaction 101 has been read. So a page stops at a horizon ``h``, the oldest
    transaction still running in the statement's snapshot: every transaction with a smaller id has
    ended (its changes are all visible, or rolled back), and any transaction that writes later gets
    a larger id. Reading only ``txid < h``, in one statement so that ``h`` and the rows come from one
    snapshot, never skips a change. The next position is the last row's when the page is full; else
    every change below ``h`` has been read, and it is (h - 1, the largest seq), so even an empty page
    moves on. A long transaction holds the horizon, and the pages after it, back until it ends.
    """
    horizon = select(_HORIZON.label("h")).subquery("horizon")
    rows = select(Change).where(Change.txid < horizon.c.h)
    if after is not None:
        rows = rows.where(tuple_(Change.txid, Change.seq) > tuple_(*after))
    page = rows.order_by(Change.txid, Change.seq).limit(limit).lateral("page")
    change = aliased(Change, page)
    result = await session.execute(
        select(horizon.c.h, change)
        .select_from(horizon)
        .outerjoin(page, true())
        .order_by(page.c.txid, page.c.seq)
    )
    found = result.all()  # one row at least, the horizon's, with no change when none is eligible
    changes = [c for _, c in found if c is not None]
    if len(changes) == limit:
        return ChangePage(changes, Position(changes[-1].txid, changes[-1].seq))
    return ChangePage(changes, Position(found[0][0] - 1, MAX_SEQ))
