"""The burst log names its actor: ``request_bursts.client_id`` becomes ``actor``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

The submit/withdraw burst limit counts the attempts of whoever acts, a client, a person or a peer node,
by ``principal.actor`` (``client:ID``, ``person:ISSUER#SUBJECT``, ``node:URL``); the column kept that
under a client's name. Its index is renamed with it. No row is rewritten: an attempt counts for a
minute only.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("request_bursts", "client_id", new_column_name="actor")
    op.execute("ALTER INDEX ix_request_bursts_client RENAME TO ix_request_bursts_actor")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_request_bursts_actor RENAME TO ix_request_bursts_client")
    op.alter_column("request_bursts", "actor", new_column_name="client_id")
