"""Audit: the append-only, hash-chained audit log and its chain head.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("payload_digest", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("id", name="uq_audit_log_id"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_audit_log_organisation_id_organisations"
        ),
        sa.CheckConstraint("outcome IN ('success', 'failure', 'denied')", name="ck_audit_log_outcome"),
    )
    # The per-organisation listing (newest first: a backward scan), and its two common filters.
    op.create_index("ix_audit_log_organisation_id_seq", "audit_log", ["organisation_id", "seq"])
    op.create_index("ix_audit_log_organisation_id_action", "audit_log", ["organisation_id", "action"])
    op.create_index("ix_audit_log_organisation_id_at", "audit_log", ["organisation_id", "at"])

    # The chain head: one row, locked FOR UPDATE by every append so writers serialise.
    op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")

    # Row-level security. An organisation reads its own entries; an entry may be written only for the
    # organisation of the transaction (or, with none set, without one: an unauthenticated failure).
    # The schema owner (who runs this migration) reads the whole chain, to verify it.
    op.execute("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY audit_log_tenant ON audit_log FOR SELECT "
        "USING (organisation_id = (SELECT msnet_current_org()))"
    )
    op.execute(
        "CREATE POLICY audit_log_append ON audit_log FOR INSERT "
        "WITH CHECK (organisation_id IS NOT DISTINCT FROM (SELECT msnet_current_org()))"
    )
    op.execute("CREATE POLICY audit_log_verify ON audit_log FOR SELECT TO CURRENT_USER USING (true)")

    # Append-only: the service role may read and add, never change or remove; the triggers refuse
    # even the owner unless it disables them first.
    grant("audit_log", "SELECT, INSERT")
    grant("audit_head", "SELECT, UPDATE")
    op.execute(
        """
        CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog
        AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING HINT = 'Entries are never changed or removed; record a new event instead.';
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_log")  # its policies, triggers and indexes go with it
    op.execute("DROP FUNCTION audit_log_refuse_change()")
