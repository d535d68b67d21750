"""Saved searches: a person's roster or trainings searches, what they last looked at and were e-mailed.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

A person's searches belong to their organisation (row-level security, like every organisation's
records) and go with the person.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant, isolate

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("person_id", sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.String(2000), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_looked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_emailed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('roster', 'trainings')", name="known_kind"),
    )
    op.create_index("ix_saved_searches_person", "saved_searches", ["person_id", "created_at"])
    op.create_index(
        "ix_saved_searches_notify",
        "saved_searches",
        ["organisation_id", "last_emailed_at"],
        postgresql_where=sa.text("notify"),
    )
    isolate("saved_searches")
    grant("saved_searches", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("saved_searches")
