"""A page's session and its person read in one statement: a person is visible to the transaction that
presents the hash of their session's cookie.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07

Resuming a page's session read the session (visible by the hash presented in ``msnet.session``,
migration 0026), which acts for its organisation from then on, then the person in a second round
trip, since ``people`` is visible to its organisation only and the organisation was not set until
the first statement ran. ``people_session`` lets a transaction that presents a session's hash read
that session's person (reading only: writes still need the organisation), so one statement reads
both. Only a session that has not expired shows its person (one past its idle time still does until
its first request deletes it: the idle limit is a setting of msnet's, not the database's).
"""

from __future__ import annotations

from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE POLICY people_session ON people FOR SELECT USING (id = (SELECT person_id FROM web_sessions "
        "WHERE token_hash = NULLIF(current_setting('msnet.session', true), '') AND expires_at > now()))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY people_session ON people")
