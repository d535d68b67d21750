"""Federation: the peers of this node, and where each organisation is homed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

``peers``: one row a peer node, named by its issuer (its MSNET_PUBLIC_URL), with its last good
signed node document and JWKS, the key fingerprints its operator confirmed (or that a trusted key
signed over), its state ('active', or 'refused' while its key changed without an overlap), and the
state of the pull from it (cursor, last sync, last error, failures, backoff). The table has no
organisation: it is the node's, outside row-level security, read and written by the service role.

``organisations.home``: NULL for an organisation homed on this node, else the issuer of its home peer.

The service role may delete experts and processes, as it may the other shared records: the copies
of a peer's records go when their tombstone arrives or the peer is removed (a local expert is still
erased, not deleted, by the roster service).

``used_assertions.client_id`` is widened to 300 characters: a peer node authenticates with its issuer
URL as its client id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("jwks", postgresql.JSONB(), nullable=False),
        sa.Column("trusted_thumbprints", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("node_document", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default="active"),
        sa.Column("refused_reason", sa.Text()),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("document_checked_at", sa.DateTime(timezone=True)),
        sa.Column("cursor", sa.Text()),
        sa.Column("last_sync_at", sa.DateTime(timezone=True)),
        sa.Column("last_change_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_error_at", sa.DateTime(timezone=True)),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("poked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("issuer", name="uq_peers_issuer"),
        sa.CheckConstraint("state IN ('active', 'refused')", name="state"),
    )
    grant("peers", "SELECT, INSERT, UPDATE, DELETE")
    op.add_column("organisations", sa.Column("home", sa.Text()))
    grant("experts", "DELETE")
    grant("processes", "DELETE")
    op.alter_column("used_assertions", "client_id", type_=sa.String(300), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("used_assertions", "client_id", type_=sa.String(80), existing_nullable=False)
    op.execute(f'REVOKE DELETE ON TABLE processes FROM "{app_role()}"')
    op.execute(f'REVOKE DELETE ON TABLE experts FROM "{app_role()}"')
    op.drop_column("organisations", "home")
    op.drop_table("peers")
