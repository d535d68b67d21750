"""The delivery workers woken when a message is queued, rather than at their next poll.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07

A statement-level trigger on ``outbox_messages`` notifies the channel ``msnet_outbox``
(``msnet.outbox.worker.CHANNEL``) after every insert. PostgreSQL delivers a notification when the
transaction commits (never for one rolled back), once per transaction however many messages it
queued, to every session listening, in whichever process: each delivery worker (``msnet serve``'s,
``msnet worker``'s) listens and claims at once. The workers' poll stays, for messages whose retry
falls due and for a worker that has lost its listening connection.
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE FUNCTION msnet_outbox_notify() RETURNS trigger LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            PERFORM pg_notify('msnet_outbox', '');
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER outbox_messages_notify AFTER INSERT ON outbox_messages "
        "FOR EACH STATEMENT EXECUTE FUNCTION msnet_outbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_messages_notify ON outbox_messages")
    op.execute("DROP FUNCTION msnet_outbox_notify()")
