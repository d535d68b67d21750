"""The last signature of each record's change-feed item, so that an item is signed once.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07

``federation_signatures`` (``msnet.federation.signatures``): one row a record this node homes and
has served in its change feed: the SHA-256 of the signing input of its last item and the signature.
No content of the record: the node's, not an organisation's (no row-level security).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import grant

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_signatures",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "kind", name="pk_federation_signatures"),
    )
    grant("federation_signatures", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("federation_signatures")
