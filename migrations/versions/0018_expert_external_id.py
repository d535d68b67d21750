"""An organisation's own reference for an expert (its HR system's), unique within the organisation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

``experts.external_id`` is optional; the partial unique index scopes it by organisation, so two
organisations may use the same reference and an insert cannot reveal that another holds a value.
An erased expert's reference is cleared with the rest of its personal data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("experts", sa.Column("external_id", sa.String(100), nullable=True))
    op.create_index(
        "uq_experts_external_id",
        "experts",
        ["organisation_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_experts_external_id", table_name="experts")
    op.drop_column("experts", "external_id")
