"""The offices' search documents no longer mark the database's generation: their writes come with one that does.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07

Migration 0036 tracked ``office_search`` for the read cache (migration 0035), as every table is
unless listed as operational. Its rows are written only by ``msnet_office_search_refresh``, which
the triggers of 0036 call for a row of ``offices`` or ``capacities`` inserted, updated or deleted
(and its foreign key's cascade deletes an office's row with the office): each such write changes a
row of a tracked table in the same transaction, whose own trigger marks it. So every write to the
offices and capacities ran a second marking trigger per row, which found the transaction marked
already. ``UNTRACKED`` lists the tables left out for that reason; tests/test_read_cache.py fails on
a table neither tracked nor listed in 0035's or this one's. The refresh is the owner's (``SECURITY
DEFINER``, called by the owner's triggers), and no one else may call it: a direct call would write
the search table in a transaction that changed no tracked table, and lock another organisation's
document.
"""

from __future__ import annotations

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

#: The tables written only by triggers on tracked tables, in the transactions that change those.
UNTRACKED = ("office_search",)


REFRESH = "msnet_office_search_refresh(uuid)"


def upgrade() -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {REFRESH} FROM PUBLIC")
    for table in UNTRACKED:
        op.execute(f"DROP TRIGGER {table}_generation ON {table}")
        op.execute(f"DROP TRIGGER {table}_generation_truncate ON {table}")


def downgrade() -> None:
    op.execute(f"GRANT EXECUTE ON FUNCTION {REFRESH} TO PUBLIC")
    for table in UNTRACKED:
        op.execute(
            f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION msnet_generation_mark()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_generation_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION msnet_generation_mark()"
        )
