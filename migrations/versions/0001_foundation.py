"""Foundation: the organisation registry and the tenancy function row-level security policies use.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION msnet_current_org() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('msnet.org', true), '')::uuid $$
        """
    )
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{app_role()}"')
    op.execute("GRANT SELECT ON TABLE alembic_version TO " + f'"{app_role()}"')
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("acronym", sa.String(20)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("identifiers", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("home_node", sa.String(300)),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("slug", name="uq_organisations_slug"),
        sa.CheckConstraint(
            "kind IN ('global', 'regional', 'subregional', 'interregional', 'other')",
            name="ck_organisations_kind",
        ),
    )
    grant("organisations", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    op.drop_table("organisations")
    op.execute("DROP FUNCTION msnet_current_org()")
