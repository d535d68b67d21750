"""The change log and tombstones: what changed, in the same transaction as the change.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26

Every insert, update and delete of a shared record (organisations, offices, capacities, experts,
processes, trainings, publications) adds a row to ``change_log`` through one row trigger, cascaded
deletes included: an insert, or an update that changes ``version``, ``sharing`` or ``share_with``,
is an 'upsert'; a delete is a 'delete' at the next version, and leaves a row in ``tombstones`` so a
later copy of an older version cannot bring the record back. An expert's erasure (``deleted_at``
set; the row stays, emptied) is that expert's delete. Each row carries the id of the transaction
that wrote it (``txid``): ``msnet.db.changes.read_changes`` pages through the log in (txid, seq)
order below the oldest running transaction, so a change committed late is never skipped.

The trigger function is ``SECURITY DEFINER`` (search path pinned, tables schema-qualified): the
service role reads both tables, as row-level security lets it (the sharing rule of the records),
and cannot write either. The owner is subject to the forced row-level security too; its own policy
lets the function write whatever organisation is set, or none (``msnet org create``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import grant

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
KINDS = {
    "organisations": "organisation",
    "offices": "office",
    "capacities": "capacity",
    "experts": "expert",
    "processes": "process",
    "trainings": "training",
    "publications": "publication",
}
SEEN = (
    f"sharing = 'public' OR organisation_id = {ORG} OR ({ORG} IS NOT NULL AND (sharing = 'network' "
    f"OR (sharing = 'restricted' AND {ORG} = ANY(share_with))))"
)

LOG_CHANGE = """
CREATE FUNCTION msnet_log_change() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind text := TG_ARGV[0];
    v_row record;
    v_op text := 'upsert';
    v_version integer;
    v_org uuid;
    v_sharing text := 'public';
    v_share_with uuid[] := '{}';
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_row := OLD;
        v_op := 'delete';
        v_version := OLD.version + 1;
    ELSE
        v_row := NEW;
        v_version := NEW.version;
    END IF;
    -- A statement may name only fields the table has (organisations have no sharing, only experts
    -- have deleted_at): PL/pgSQL plans each statement when it first runs it, for each table.
    IF v_kind = 'organisation' THEN
        v_org := v_row.id;
        IF TG_OP = 'UPDATE' THEN
            IF NEW.version = OLD.version THEN
                RETURN NULL;
            END IF;
        END IF;
    ELSE
        v_org := v_row.organisation_id;
        v_sharing := v_row.sharing;
        v_share_with := v_row.share_with;
        IF TG_OP = 'UPDATE' THEN
            IF NEW.version = OLD.version AND NEW.sharing = OLD.sharing AND NEW.share_with = OLD.share_with THEN
                RETURN NULL;
            END IF;
            IF v_kind = 'expert' THEN
                IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
                    v_op := 'delete';
                END IF;
            END IF;
        END IF;
    END IF;
    INSERT INTO public.change_log (kind, record_id, organisation_id, op, version, sharing, share_with, origin)
    VALUES (v_kind, v_row.id, v_org, v_op, v_version, v_sharing, v_share_with, v_row.origin);
    IF v_op = 'delete' THEN
        INSERT INTO public.tombstones
            (kind, record_id, organisation_id, origin, version, sharing, share_with, deleted_at)
        VALUES (v_kind, v_row.id, v_org, v_row.origin, v_version, v_sharing, v_share_with, now())
        ON CONFLICT ON CONSTRAINT pk_tombstones DO UPDATE
        SET organisation_id = EXCLUDED.organisation_id, origin = EXCLUDED.origin,
            version = EXCLUDED.version, sharing = EXCLUDED.sharing, share_with = EXCLUDED.share_with,
            deleted_at = EXCLUDED.deleted_at;
    END IF;
    RETURN NULL;
END
$$
"""


def _protect(table: str) -> None:
    """Forced row-level security: the service role reads what the records' sharing lets it see; the
    owner (who migrates, and whose trigger function writes) reads and writes every row."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {table}_read ON {table} FOR SELECT USING ({SEEN})")
    op.execute(f"CREATE POLICY {table}_definer ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")
    grant(table, "SELECT")


def _record_columns() -> list[sa.Column]:
    kinds = ", ".join(f"'{kind}'" for kind in KINDS.values())
    return [
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sharing", sa.Text(), nullable=False),
        sa.Column("share_with", postgresql.ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.CheckConstraint(f"kind IN ({kinds})", name="kind"),
        sa.CheckConstraint("sharing IN ('private', 'restricted', 'network', 'public')", name="sharing"),
    ]


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column(
            "txid",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("pg_current_xact_id()::text::bigint"),
        ),
        sa.Column("op", sa.Text(), nullable=False),
        *_record_columns(),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("op IN ('upsert', 'delete')", name="op"),
    )
    op.create_index("ix_change_log_txid", "change_log", ["txid", "seq"])
    _protect("change_log")

    op.create_table(
        "tombstones",
        *_record_columns(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("kind", "record_id", name="pk_tombstones"),
    )
    _protect("tombstones")

    op.execute(LOG_CHANGE)
    for table, kind in KINDS.items():
        op.execute(
            f"CREATE TRIGGER {table}_log_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION msnet_log_change('{kind}')"
        )


def downgrade() -> None:
    for table in KINDS:
        op.execute(f"DROP TRIGGER {table}_log_change ON {table}")
    op.execute("DROP FUNCTION msnet_log_change()")
    op.drop_table("tombstones")
    op.drop_table("change_log")
