"""The quarter's report by e-mail: the organisation administrators who asked for it.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

``report_mailings``: one row a person who asked (``msnet.web.quarterly``), the language they asked in
and the first day of the last quarter e-mailed to them. It belongs to the person's organisation
(row-level security, like every organisation's records) and goes with the person.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant, isolate

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_mailings",
        sa.Column("person_id", sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_quarter", sa.Date(), nullable=True),
    )
    isolate("report_mailings")
    grant("report_mailings", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("report_mailings")
