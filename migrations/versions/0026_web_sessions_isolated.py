"""Sign-ins under way and sessions under forced row-level security, like every organisation's table.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

A row of ``web_signins`` or ``web_sessions`` is visible to its organisation, and to a transaction
that presents the hash of the secret the browser holds (the sign-in's ``state``, the session's
cookie) in ``msnet.signin`` or ``msnet.session``: a callback or a page request finds its own row
before it knows whose it is, and nothing else. Rows are written only for the organisation set.
Ended ones are dropped by ``msnet_end_stale_web(idle)``, ``SECURITY DEFINER`` of the schema owner,
since they may be any organisation's.
"""

from __future__ import annotations

from alembic import op

from msnet.db.tenancy import app_role

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
PRESENTED = {"web_signins": ("state_hash", "msnet.signin"), "web_sessions": ("token_hash", "msnet.session")}

END_STALE = """
CREATE FUNCTION msnet_end_stale_web(idle interval) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM public.web_signins WHERE expires_at < now();
    DELETE FROM public.web_sessions WHERE expires_at < now() OR last_seen_at < now() - idle;
$$
"""


def upgrade() -> None:
    for table, (column, setting) in PRESENTED.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_tenant ON {table} "
            f"USING (organisation_id = {ORG} OR {column} = NULLIF(current_setting('{setting}', true), '')) "
            f"WITH CHECK (organisation_id = {ORG})"
        )
        op.execute(f"CREATE POLICY {table}_definer ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")
    op.execute(END_STALE)
    op.execute("REVOKE ALL ON FUNCTION msnet_end_stale_web(interval) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION msnet_end_stale_web(interval) TO "{app_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION msnet_end_stale_web(interval)")
    for table in PRESENTED:
        op.execute(f"DROP POLICY {table}_definer ON {table}")
        op.execute(f"DROP POLICY {table}_tenant ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
