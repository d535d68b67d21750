"""Capacities get an index on ``office_id`` alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24

The capacities of an office were found through ``ix_capacities_office`` on (organisation_id,
office_id): without the organisation, PostgreSQL 18 skipped through the index once per organisation
(33 pages for three capacities) and PostgreSQL 15 read all of it. The office search looks up the
capacities of every office that matches, and so do an office's page and its deletion. With 2,000
offices and 6,000 capacities, office searches (text, a theme and a language; a country; text)
served 130-139 requests a second instead of 72-76 (8 clients, PostgreSQL 18).
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_capacities_office_id", "capacities", ["office_id"])


def downgrade() -> None:
    op.drop_index("ix_capacities_office_id", "capacities")
