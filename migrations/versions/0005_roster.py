"""Roster: experts (shared records, tombstoned on delete) and their contact details kept apart.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant, share

EXPERT_SEARCH = (
    "to_tsvector('english', msnet_unaccent(name || ' ' || bio)) || "
    "to_tsvector('french', msnet_unaccent(name || ' ' || bio)) || "
    "to_tsvector('simple', msnet_unaccent(name || ' ' || bio || ' ' || "
    "msnet_join(affiliations) || ' ' || msnet_join(past_processes)))"
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # array_to_string is only STABLE in general; over text[] it is immutable, as a generated column needs
    op.execute(
        "CREATE FUNCTION msnet_join(text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
        "AS $$ SELECT array_to_string($1, ' ') $$"
    )
    text_array = postgresql.ARRAY(sa.Text())
    op.create_table(
        "experts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False, server_default=""),
        sa.Column("seniority", sa.String(20)),
        sa.Column("expertise", postgresql.JSONB(), nullable=False, server_default="[]"),
        *(
            sa.Column(name, text_array, nullable=False, server_default="{}")
            for name in (
                "themes",
                "service_types",
                "language_codes",
                "nationalities",
                "experience",
                "regions",
            )
        ),
        sa.Column("languages", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("availability", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("available", postgresql.DATEMULTIRANGE(), nullable=False, server_default="{}"),
        sa.Column("affiliations", text_array, nullable=False, server_default="{}"),
        sa.Column("past_processes", text_array, nullable=False, server_default="{}"),
        sa.Column("consent", postgresql.JSONB()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("sharing", sa.String(12), nullable=False),
        sa.Column("share_with", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(EXPERT_SEARCH, persisted=True)),
        sa.CheckConstraint("sharing IN ('private', 'restricted', 'network', 'public')", name="sharing"),
    )
    op.create_index("ix_experts_organisation", "experts", ["organisation_id", "id"])
    for column in ("themes", "service_types", "language_codes", "regions", "experience", "search"):
        op.create_index(f"ix_experts_{column}", "experts", [column], postgresql_using="gin")
    op.create_index("ix_experts_available", "experts", ["available"], postgresql_using="gist")
    share("experts")
    grant("experts", "SELECT, INSERT, UPDATE")

    op.create_table(
        "expert_contacts",
        sa.Column("expert_id", sa.Uuid(), sa.ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("phone", sa.String(40)),
    )
    op.execute("ALTER TABLE expert_contacts ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE expert_contacts FORCE ROW LEVEL SECURITY")
    # readable wherever the expert is (the subquery is itself under the experts' policies)
    op.execute(
        "CREATE POLICY expert_contacts_read ON expert_contacts FOR SELECT "
        "USING (EXISTS (SELECT 1 FROM experts e WHERE e.id = expert_id AND e.deleted_at IS NULL))"
    )
    for command in ("INSERT", "UPDATE", "DELETE"):
        check = "WITH CHECK" if command == "INSERT" else "USING"
        op.execute(
            f"CREATE POLICY expert_contacts_{command.lower()} ON expert_contacts FOR {command} "
            f"{check} (organisation_id = (SELECT msnet_current_org()))"
        )
    grant("expert_contacts", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("expert_contacts")
    op.drop_table("experts")
    op.execute("DROP FUNCTION msnet_join(text[])")
