"""An organisation sees when another read the contact details of one of its experts.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A read of an expert's contact details is recorded in the reader's log (``expert.contact.read``) and,
when the expert belongs to another organisation, in the owner's too (``expert.contact.disclosed``:
who read, when, which expert). Row-level security lets a transaction append an entry only for its own
organisation; this policy adds that one exception, and no more: the action must be the disclosure, of
an expert the reader may see and that belongs to the organisation the entry is for, carrying neither
the reader's request id nor its address (nothing else of the reader's log reaches the owner).
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CASE keeps the cast to uuid to disclosure entries (other entries' resource ids need not be ids).
    op.execute(
        """
        CREATE POLICY audit_log_disclosure ON audit_log FOR INSERT
        WITH CHECK (
            action = 'expert.contact.disclosed'
            AND resource_type = 'expert'
            AND request_id IS NULL
            AND source IS NULL
            AND organisation_id IS DISTINCT FROM (SELECT msnet_current_org())
            AND EXISTS (
                SELECT 1 FROM experts e
                WHERE e.id = CASE WHEN action = 'expert.contact.disclosed' THEN resource_id::uuid END
                  AND e.organisation_id = audit_log.organisation_id
            )
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP POLICY audit_log_disclosure ON audit_log")
