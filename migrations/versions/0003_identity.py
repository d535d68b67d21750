"""Identity: OAuth clients per organisation, node signing keys, token deny list, used assertions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant, isolate

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("client_id", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret_hash", sa.String(128)),
        sa.Column("jwks", postgresql.JSONB()),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("client_id", name="uq_oauth_clients_client_id"),
        sa.CheckConstraint("(secret_hash IS NULL) <> (jwks IS NULL)", name="one_credential"),
    )
    op.create_index("ix_oauth_clients_organisation", "oauth_clients", ["organisation_id", "created_at"])
    isolate("oauth_clients")
    grant("oauth_clients", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(), nullable=False),
        sa.Column("private_jwk_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
    )
    grant("signing_keys", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "token_denylist",
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    grant("token_denylist", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(80), primary_key=True),
        sa.Column("jti", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    grant("used_assertions", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.drop_table("used_assertions")
    op.drop_table("token_denylist")
    op.drop_table("signing_keys")
    op.drop_table("oauth_clients")
