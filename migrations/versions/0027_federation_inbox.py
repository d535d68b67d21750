"""Messages between nodes: the outbox carries them to peers, the inbox remembers what it took.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

An outbox message of kind ``peer`` (``msnet.federation.inbox.send``) is a message for a peer node's
``POST /federation/v1/inbox``, signed when it is sent. Its id derives from the peer, the message's kind
and its key, and ``msnet_outbox_enqueue_peer`` writes it only once: a change queued again under the same
key is the same message. Its ``created_at`` is the clock's (not the transaction's start), so two
messages queued in one transaction keep their order. ``msnet_outbox_claim`` leases a peer message only
when no earlier message for the same peer and subject (``payload->>'to'``, ``payload->>'subject'``)
is still pending: the messages about one request reach its peer in the order they were queued, and a
peer that is down holds back only its own.

``federation_messages``: one row for each message a peer delivered here (its sender and id, kind, a
digest of its content), written in the transaction that applies it: a message delivered again is
answered without effect. The table has no organisation: it is the node's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from msnet.db.tenancy import app_role, grant

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

DEFINER = "LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
ENQUEUE = "msnet_outbox_enqueue_peer(uuid, uuid, text, jsonb)"
CLAIM = """
CREATE OR REPLACE FUNCTION msnet_outbox_claim(p_kinds text[], p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, organisation_id uuid, kind text, event_type text, payload jsonb,
               attempts integer, url text, secret_encrypted text)
{definer} AS $$
WITH due AS (
    SELECT m.id FROM public.outbox_messages m
    WHERE m.delivered_at IS NULL AND m.failed_at IS NULL AND m.next_attempt_at <= now()
      AND m.kind = ANY (p_kinds)
      {peer_order}
    ORDER BY m.next_attempt_at
    LIMIT least(greatest(p_limit, 1), 100)
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE public.outbox_messages m
    SET attempts = m.attempts + 1,
        next_attempt_at = now() + make_interval(secs => least(greatest(p_lease_seconds, 30), 3600))
    FROM due WHERE m.id = due.id
    RETURNING m.id, m.organisation_id, m.kind, m.event_type, m.payload, m.attempts, m.endpoint_id
)
SELECT c.id, c.organisation_id, c.kind::text, c.event_type::text, c.payload, c.attempts,
       e.url::text, e.secret_encrypted
FROM claimed c LEFT JOIN public.webhook_endpoints e ON e.id = c.endpoint_id
$$
"""
PEER_ORDER = """AND (m.kind <> 'peer' OR NOT EXISTS (
          SELECT 1 FROM public.outbox_messages p
          WHERE p.kind = 'peer' AND p.delivered_at IS NULL AND p.failed_at IS NULL
            AND p.payload->>'to' = m.payload->>'to' AND p.payload->>'subject' = m.payload->>'subject'
            AND (p.created_at, p.id) < (m.created_at, m.id)))"""


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_messages DROP CONSTRAINT ck_outbox_messages_kind")
    op.create_check_constraint("kind", "outbox_messages", "kind IN ('webhook', 'email', 'peer')")
    op.create_index(
        "ix_outbox_messages_peer",
        "outbox_messages",
        [sa.text("(payload->>'to')"), sa.text("(payload->>'subject')"), "created_at"],
        postgresql_where=sa.text("kind = 'peer' AND delivered_at IS NULL AND failed_at IS NULL"),
    )
    op.execute(
        f"""CREATE FUNCTION msnet_outbox_enqueue_peer(
            p_id uuid, p_organisation uuid, p_kind text, p_payload jsonb) RETURNS void {DEFINER} AS $$
        INSERT INTO public.outbox_messages (id, organisation_id, kind, event_type, payload, created_at)
        VALUES (p_id, p_organisation, 'peer', p_kind, p_payload, clock_timestamp())
        ON CONFLICT (id) DO NOTHING
        $$"""
    )
    op.execute(f"REVOKE ALL ON FUNCTION {ENQUEUE} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {ENQUEUE} TO "{app_role()}"')
    op.execute(CLAIM.format(definer=DEFINER, peer_order=PEER_ORDER))

    op.create_table(
        "federation_messages",
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("sender", "id", name="pk_federation_messages"),
    )
    grant("federation_messages", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_table("federation_messages")
    op.execute(CLAIM.format(definer=DEFINER, peer_order=""))
    op.execute(f"DROP FUNCTION {ENQUEUE}")
    op.execute("DELETE FROM outbox_messages WHERE kind = 'peer'")
    op.drop_index("ix_outbox_messages_peer", "outbox_messages")
    op.execute("ALTER TABLE outbox_messages DROP CONSTRAINT ck_outbox_messages_kind")
    op.create_check_constraint("kind", "outbox_messages", "kind IN ('webhook', 'email')")
