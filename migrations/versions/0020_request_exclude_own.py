"""A request may leave its own organisation's offices out of routing: ``requests.exclude_own_organisation``.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

False for every request there is (routing considered every office, the requester's own included, and
still does unless a request says otherwise).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "requests",
        sa.Column("exclude_own_organisation", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("requests", "exclude_own_organisation")
