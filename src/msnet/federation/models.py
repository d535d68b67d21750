"""A peer node: what this node knows of it (its last good node document and keys), and the state of
the pull from it; the messages peers delivered here (``msnet.federation.inbox``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, new_id


class Peer(Base):
    """Another node this one exchanges with, named by its issuer (its MSNET_PUBLIC_URL). Not under
    row-level security: it is the node's, not an organisation's."""

    __tablename__ = "peers"
    __table_args__ = (CheckConstraint("state IN ('active', 'refused')", name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    issuer: Mapped[str] = mapped_column(Text, unique=True)
    #: its public keys, from its last good node document
    jwks: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: the fingerprints of its keys that its operator confirmed, or that a trusted key signed over
    trusted_thumbprints: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    #: the payload of its last good node document
    node_document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: 'active', or 'refused' while its key changed without an overlap (until the operator confirms)
    state: Mapped[str] = mapped_column(Text, default="active")
    refused_reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: when its node document was last fetched and verified
    document_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the pull from it (msnet.federation.sync)
    cursor: Mapped[str | None] = mapped_column(Text)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the origin's time of the newest item applied
    last_change_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    poked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FederationMessage(Base):
    """A message a peer delivered to this node's inbox, applied once: its sender and id (a delivery
    again finds it), its kind and a digest of its content. Not under row-level security: it is the
    node's."""

    __tablename__ = "federation_messages"

    sender: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
