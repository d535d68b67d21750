"""Trainings and publications (shared records), digest subscriptions and the runs that send them once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant, isolate, share

TRAINING_SEARCH = (
    "to_tsvector('simple', msnet_unaccent(title || ' ' || description || ' ' || coalesce(city, '')))"
)
PUBLICATION_SEARCH = "to_tsvector('simple', msnet_unaccent(title || ' ' || summary))"

revision = "0008"
down_revision = "0007"
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
    text_array = postgresql.ARRAY(sa.Text())
    op.create_table(
        "trainings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("themes", text_array, nullable=False, server_default="{}"),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("city", sa.String(100)),
        sa.Column("country", sa.String(2)),
        sa.Column("regions", text_array, nullable=False, server_default="{}"),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("application_deadline", sa.DateTime(timezone=True)),
        sa.Column("seats", sa.Integer()),
        sa.Column("languages", text_array, nullable=False, server_default="{}"),
        sa.Column("audience", text_array, nullable=False, server_default="{}"),
        sa.Column("cost", sa.String(300), nullable=False, server_default=""),
        sa.Column("apply_url", sa.String(500)),
        sa.Column("apply_email", sa.String(200)),
        *_shared_columns(),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(TRAINING_SEARCH, persisted=True)),
        sa.CheckConstraint("ends_at >= starts_at", name="period"),
        sa.CheckConstraint(
            "application_deadline IS NULL OR application_deadline <= starts_at", name="deadline"
        ),
        sa.CheckConstraint(
            "kind IN ('course', 'workshop', 'exchange_visit', 'envoy_retreat', 'peer_exchange', 'webinar')",
            name="kind",
        ),
        sa.CheckConstraint("format IN ('in_person', 'online', 'hybrid')", name="format"),
    )
    op.create_index("ix_trainings_organisation", "trainings", ["organisation_id", "starts_at"])
    op.create_index("ix_trainings_starts_at", "trainings", ["starts_at", "id"])
    op.create_index("ix_trainings_created_at", "trainings", ["created_at"])
    for column in ("themes", "languages", "regions", "audience", "search"):
        op.create_index(f"ix_trainings_{column}", "trainings", [column], postgresql_using="gin")
    share("trainings")
    grant("trainings", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "publications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("themes", text_array, nullable=False, server_default="{}"),
        sa.Column("languages", text_array, nullable=False, server_default="{}"),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        *_shared_columns(),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(PUBLICATION_SEARCH, persisted=True)),
    )
    op.create_index("ix_publications_organisation", "publications", ["organisation_id", "published_on"])
    op.create_index("ix_publications_created_at", "publications", ["created_at"])
    for column in ("themes", "languages", "search"):
        op.create_index(f"ix_publications_{column}", "publications", [column], postgresql_using="gin")
    share("publications")
    grant("publications", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("filters", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("period IN ('weekly', 'monthly')", name="period"),
        sa.UniqueConstraint("organisation_id", "email", "period", name="uq_digest_subscriptions_address"),
    )
    isolate("digest_subscriptions")
    grant("digest_subscriptions", "SELECT, INSERT, DELETE")

    op.create_table(
        "digest_runs",
        sa.Column(
            "subscription_id",
            sa.Uuid(),
            sa.ForeignKey("digest_subscriptions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("period_start", sa.Date(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Uuid()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    isolate("digest_runs")
    grant("digest_runs", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    op.drop_table("digest_runs")
    op.drop_table("digest_subscriptions")
    op.drop_table("publications")
    op.drop_table("trainings")
