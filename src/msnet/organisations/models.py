"""The organisations of the network: the tenants."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base, SharedRecord


class Organisation(SharedRecord, Base):
    __tablename__ = "organisations"

    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    acronym: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    identifiers: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    home_node: Mapped[str | None] = mapped_column(String(300))
    #: NULL when it is homed on this node, else the issuer of its home peer (msnet.federation)
    home: Mapped[str | None] = mapped_column(Text)
