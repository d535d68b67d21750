"""Outbox: webhook endpoints, and the messages (webhooks, e-mails) written with the change they report.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-24

Both tables hold organisation data and have forced row-level security like every other. Two things
must nevertheless cross organisations, and each goes through one narrow ``SECURITY DEFINER``
function owned by the schema owner (search path pinned, tables schema-qualified, executable by the
service role only):

- writing: a change made for one organisation may concern another (a request sent by the AU is
  *received* by the UN), so ``msnet_outbox_emit`` and ``msnet_outbox_enqueue_email`` insert messages
  for the organisation named, in the caller's transaction, and return nothing: the caller learns
  nothing of another organisation's endpoints, not even how many there are;
- claiming: the delivery worker serves every organisation, so ``msnet_outbox_claim`` takes a batch of
  due messages with ``FOR UPDATE SKIP LOCKED`` (concurrent workers never take the same one), leases
  them by moving ``next_attempt_at`` forward and counting the attempt, and returns only what delivery
  needs (the endpoint's URL and its still-encrypted secret; the key to it is not in the database).

The definer functions see across organisations through a policy granted to the owner role alone
(``TO CURRENT_USER`` while migrating), which the service role can neither become nor inherit. The
worker records each outcome under ordinary row-level security, acting for the message's
organisation, so no function can mark another organisation's messages. The alternative, one
transaction per organisation per poll, costs a round trip per organisation even when nothing is
due and makes fairness between organisations the worker's problem.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant, isolate

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

DEFINER = "LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
# (name, parameters, what it returns and its body)
FUNCTIONS = (
    (
        "msnet_outbox_emit",
        "p_organisation uuid, p_event_type text, p_payload jsonb, p_ids uuid[]",
        f"""RETURNS void {DEFINER} AS $$
        INSERT INTO public.outbox_messages (id, organisation_id, kind, endpoint_id, event_type, payload)
        SELECT p_ids[t.n::integer], p_organisation, 'webhook', t.endpoint_id, p_event_type, p_payload
        FROM (
            SELECT e.id AS endpoint_id, row_number() OVER (ORDER BY e.id) AS n
            FROM public.webhook_endpoints e
            WHERE e.organisation_id = p_organisation AND e.active AND p_event_type = ANY (e.event_types)
        ) t
        $$""",
    ),
    (
        "msnet_outbox_enqueue_email",
        "p_id uuid, p_organisation uuid, p_payload jsonb",
        f"""RETURNS void {DEFINER} AS $$
        INSERT INTO public.outbox_messages (id, organisation_id, kind, payload)
        VALUES (p_id, p_organisation, 'email', p_payload)
        $$""",
    ),
    (
        "msnet_outbox_claim",
        "p_kinds text[], p_limit integer, p_lease_seconds integer",
        f"""RETURNS TABLE (id uuid, organisation_id uuid, kind text, event_type text, payload jsonb,
                           attempts integer, url text, secret_encrypted text)
        {DEFINER} AS $$
        WITH due AS (
            SELECT m.id FROM public.outbox_messages m
            WHERE m.delivered_at IS NULL AND m.failed_at IS NULL AND m.next_attempt_at <= now()
              AND m.kind = ANY (p_kinds)
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
        $$""",
    ),
)


def _signature(name: str, parameters: str) -> str:
    return f"{name}({', '.join(p.split()[-1] for p in parameters.split(', '))})"


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_webhook_endpoints_organisation", "webhook_endpoints", ["organisation_id", "id"])
    isolate("webhook_endpoints")
    op.execute(
        "CREATE POLICY webhook_endpoints_delivery ON webhook_endpoints FOR SELECT TO CURRENT_USER USING (true)"
    )
    grant("webhook_endpoints", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")),
        sa.Column("event_type", sa.String(60)),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('webhook', 'email')", name="kind"),
        sa.CheckConstraint(
            "(kind = 'webhook') = (endpoint_id IS NOT NULL AND event_type IS NOT NULL)", name="webhook_target"
        ),
        sa.CheckConstraint("delivered_at IS NULL OR failed_at IS NULL", name="one_outcome"),
    )
    op.create_index("ix_outbox_messages_organisation", "outbox_messages", ["organisation_id", "created_at"])
    op.create_index("ix_outbox_messages_endpoint", "outbox_messages", ["endpoint_id"])
    op.create_index(
        "ix_outbox_messages_due",
        "outbox_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )
    isolate("outbox_messages")
    op.execute(
        "CREATE POLICY outbox_messages_delivery ON outbox_messages TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    # the service role records outcomes; messages are written only through the functions below
    grant("outbox_messages", "SELECT, UPDATE")

    for name, parameters, body in FUNCTIONS:
        op.execute(f"CREATE FUNCTION {name}({parameters}) {body}")
        op.execute(f"REVOKE ALL ON FUNCTION {_signature(name, parameters)} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION {_signature(name, parameters)} TO "{app_role()}"')


def downgrade() -> None:
    for name, parameters, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION {_signature(name, parameters)}")
    op.drop_table("outbox_messages")
    op.drop_table("webhook_endpoints")
