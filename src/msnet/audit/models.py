"""The audit log, its chain head (migration 0002; the log is append-only in the database) and the signed checkpoints of chains (migration 0028)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, new_id


class AuditEntry(Base):
    """One event. ``seq`` is contiguous (1, 2, 3 …), assigned at append under the head's lock;
    ``hash`` chains it to the entry before (``prev_hash``). Only a digest of the payload is kept."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'failure', 'denied')", name="outcome"),
        Index("ix_audit_log_organisation_id_seq", "organisation_id", "seq"),
        Index("ix_audit_log_organisation_id_action", "organisation_id", "action"),
        Index("ix_audit_log_organisation_id_at", "organisation_id", "at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(Text)
    resource_id: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    payload_digest: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(Text)


class AuditHead(Base):
    """The single row naming the last entry (``seq`` 0 and the genesis hash when the log is empty)."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(Text)


class AuditCheckpoint(Base):
    """A signed checkpoint of a node's audit chain (``msnet.federation.checkpoints``): this node's own
    (``issuer`` its own), or one of a peer's that this node fetched and verified and so witnesses. Not
    under row-level security: it is the node's, not an organisation's; the service role reads and
    adds, never changes."""

    __tablename__ = "audit_checkpoints"

    issuer: Mapped[str] = mapped_column(Text, primary_key=True)
    #: the number of entries of the chain it covers
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: the hash of its last entry (lower-case hex; the genesis hash for an empty chain)
    hash: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the checkpoint as signed: a compact JWS whose payload is the checkpoint note
    jws: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
