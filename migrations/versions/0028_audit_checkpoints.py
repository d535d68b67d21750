"""Signed checkpoints of audit chains: this node's own, and those of its peers it witnesses.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

``audit_checkpoints``: one row a checkpoint (``msnet.federation.checkpoints``), keyed by the issuer of
the chain and the number of entries it covers: its head hash, when it was signed, the signed form
(a compact JWS of the checkpoint note) and when it was stored here. The table has no organisation:
it is the node's. The service role reads and adds; nothing changes or deletes a checkpoint.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("issuer", "size", name="pk_audit_checkpoints"),
    )
    grant("audit_checkpoints", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
