"""Federation: what the change feed may read for a peer, and the versions of the records held from peers.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

``msnet.audience`` (a transaction-local setting, an array of organisation ids, read by
``msnet_current_audience()``) is set by the change feed alone, to the organisations homed on the
calling peer, with ``msnet.org`` unset. A policy on each shared record's table then lets through,
for reading only, what that audience may see: ``network`` records, and ``restricted`` ones whose
``share_with`` names one of them (``public`` ones every reader sees); never ``private`` ones. On the
change log the policy lets the feed read every row's metadata (kind, id, version, sharing), so that
a record whose sharing narrowed reaches the peer as a tombstone; the records themselves stay
behind their tables' policies.

``federation_replicas``: one row a record held from a peer (or deleted on its peer): its origin, the
newest version applied, whether that version was a tombstone, the origin's time of it and the time
it was received here. A version not newer than the one held is not applied, so nothing is applied
twice and nothing comes back after its tombstone. The table has no organisation: it is the node's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

AUDIENCE = "(SELECT msnet_current_audience())"
SHARED = ("offices", "capacities", "experts", "processes", "trainings", "publications")


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION msnet_current_audience() RETURNS uuid[]
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('msnet.audience', true), '')::uuid[] $$
        """
    )
    for table in SHARED:
        op.execute(
            f"CREATE POLICY {table}_audience ON {table} FOR SELECT USING ({AUDIENCE} IS NOT NULL AND "
            f"(sharing = 'network' OR (sharing = 'restricted' AND share_with && {AUDIENCE})))"
        )
    op.execute(f"CREATE POLICY change_log_audience ON change_log FOR SELECT USING ({AUDIENCE} IS NOT NULL)")
    op.create_table(
        "federation_replicas",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("kind", "record_id", name="pk_federation_replicas"),
    )
    op.create_index("ix_federation_replicas_origin", "federation_replicas", ["origin"])
    grant("federation_replicas", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("federation_replicas")
    op.execute("DROP POLICY change_log_audience ON change_log")
    for table in SHARED:
        op.execute(f"DROP POLICY {table}_audience ON {table}")
    op.execute("DROP FUNCTION msnet_current_audience()")
