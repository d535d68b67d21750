"""Overlap alerts: a person's wish to be e-mailed when their organisation becomes a party to a new
overlap case, and up to when the cases were e-mailed.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07

A person's wish belongs to their organisation (row-level security, like every organisation's
records) and goes with the person.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant, isolate

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overlap_alerts",
        sa.Column("person_id", sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("told_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_overlap_alerts_organisation", "overlap_alerts", ["organisation_id", "told_until"])
    isolate("overlap_alerts")
    grant("overlap_alerts", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("overlap_alerts")
