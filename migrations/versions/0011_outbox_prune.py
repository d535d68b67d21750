"""Delivered and failed outbox messages are deleted once a retention period has passed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24

Delivery workers call ``msnet_outbox_prune(p_days)`` about once an hour: it deletes the messages of
every organisation that were delivered, or failed for good, more than ``p_days`` days ago (at least
one day), at most 10,000 a call, and returns how many. Nothing still due is touched. Like the claim,
it must cross organisations, so it is a ``SECURITY DEFINER`` function of the schema owner (search
path pinned, table schema-qualified), executable by the service role only.
"""

from __future__ import annotations

from alembic import op

from msnet.db.tenancy import app_role

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SIGNATURE = "msnet_outbox_prune(integer)"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION msnet_outbox_prune(p_days integer) RETURNS integer
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        WITH gone AS (
            DELETE FROM public.outbox_messages m
            WHERE m.id IN (
                SELECT o.id FROM public.outbox_messages o
                WHERE coalesce(o.delivered_at, o.failed_at) < now() - make_interval(days => greatest(p_days, 1))
                LIMIT 10000
            )
            RETURNING 1
        )
        SELECT count(*)::integer FROM gone
        $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app_role()}"')


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
