"""Directory: offices and their capacities (shared records), idempotency keys, accent-free search.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant, isolate, share

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _shared_columns() -> list[sa.Column]:
    return [
        sa.Column("sharing", sa.String(12), nullable=False),
        sa.Column("share_with", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("sharing IN ('private', 'restricted', 'network', 'public')", name="sharing"),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(
        """
        CREATE FUNCTION msnet_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
        """
    )
    op.create_table(
        "offices",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mandate", sa.Text(), nullable=False, server_default=""),
        sa.Column("parent_structure", sa.String(200), nullable=False, server_default=""),
        sa.Column("staff_size", sa.Integer()),
        sa.Column("role_mailbox", sa.String(200)),
        *_shared_columns(),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', msnet_unaccent(name || ' ' || parent_structure || ' ' || mandate))",
                persisted=True,
            ),
        ),
    )
    op.create_index("ix_offices_organisation", "offices", ["organisation_id", "name"])
    op.create_index("ix_offices_search", "offices", ["search"], postgresql_using="gin")
    share("offices")
    grant("offices", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "capacities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("office_id", sa.Uuid(), sa.ForeignKey("offices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("service_type", sa.String(60), nullable=False),
        sa.Column("themes", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("countries", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("regions", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("concurrent_engagements", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "last_confirmed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        *_shared_columns(),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple', msnet_unaccent(notes))", persisted=True),
        ),
    )
    op.create_index("ix_capacities_office", "capacities", ["organisation_id", "office_id"])
    for column in ("themes", "countries", "regions", "languages", "search"):
        op.create_index(f"ix_capacities_{column}", "capacities", [column], postgresql_using="gin")
    share("capacities")
    grant("capacities", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "idempotency_keys",
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    isolate("idempotency_keys")
    grant("idempotency_keys", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("capacities")
    op.drop_table("offices")
    op.execute("DROP FUNCTION msnet_unaccent(text)")
