"""Staff sign-in: identity providers per organisation, people and their roles, sign-ins under way,
server-side sessions.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

``people`` belong to their organisation (row-level security, like every organisation's records).
``identity_providers`` may be read for any organisation (the sign-in page lists the organisations
that have one; the client secret is encrypted with the node's key) and written only for one's own.
``web_signins`` and ``web_sessions`` are found by the hash of a random value the browser holds,
before anyone knows whose they are: no row-level security here (0026 adds it, with a policy that
lets a transaction presenting that hash see its row).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant, isolate

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("email_domains", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("role_claim", sa.String(100)),
        sa.Column("updated_by", sa.String(300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute("ALTER TABLE identity_providers ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE identity_providers FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY identity_providers_read ON identity_providers FOR SELECT USING (true)")
    op.execute(
        "CREATE POLICY identity_providers_insert ON identity_providers FOR INSERT "
        f"WITH CHECK (organisation_id = {ORG})"
    )
    for command in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE POLICY identity_providers_{command.lower()} ON identity_providers FOR {command} "
            f"USING (organisation_id = {ORG})"
        )
    grant("identity_providers", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "people",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("name", sa.String(300)),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("signed_in_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("organisation_id", "issuer", "subject", name="uq_people_identity"),
        sa.CheckConstraint(
            "roles <@ ARRAY['staff', 'roster_manager', 'org_admin']::text[]", name="known_roles"
        ),
    )
    op.create_index("ix_people_email", "people", ["organisation_id", "email"])
    isolate("people")
    grant("people", "SELECT, INSERT, UPDATE")

    op.create_table(
        "web_signins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column(
            "organisation_id",
            sa.Uuid(),
            sa.ForeignKey("organisations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("code_verifier", sa.String(200), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_signins_expires", "web_signins", ["expires_at"])
    grant("web_signins", "SELECT, INSERT, DELETE")

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "organisation_id",
            sa.Uuid(),
            sa.ForeignKey("organisations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("language", sa.String(8)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_index("ix_web_sessions_person", "web_sessions", ["person_id"])
    grant("web_sessions", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("web_sessions")
    op.drop_table("web_signins")
    op.drop_table("people")
    op.drop_table("identity_providers")
