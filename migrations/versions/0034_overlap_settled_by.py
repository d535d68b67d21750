"""The coordinator of an overlap case spanning nodes records which parties' nodes have said it is settled.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07

``overlap_cases.settled_by``: on the coordinator, the parties homed on other nodes whose node has sent
``overlap.settled`` for the case. The case is resolved there only once every party has: each one
homed on another node by its node's word, each one homed on the coordinator by its agreement to the
open proposal recorded there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "overlap_cases",
        sa.Column("settled_by", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_column("overlap_cases", "settled_by")
