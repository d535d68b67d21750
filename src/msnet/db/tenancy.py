"""Migration helpers for grants and row-level security, so every migration does them alike."""

from __future__ import annotations

from alembic import op


def app_role() -> str:
    """The service role (the user of MSNET_DATABASE_URL), passed in by ``msnet migrate``."""
    role = op.get_context().config.attributes.get("app_role") if op.get_context().config else None
    if not role:
        x_args = op.get_context().get_x_argument(as_dictionary=True)
        role = x_args.get("app_role")
    if not role:
        raise RuntimeError("run migrations with `msnet migrate` (or alembic -x app_role=ROLE)")
    return role


def grant(table: str, privileges: str) -> None:
    op.execute(f'GRANT {privileges} ON TABLE {table} TO "{app_role()}"')


def isolate(table: str, column: str = "organisation_id") -> None:
    """Forced row-level security: rows of ``table`` are visible and writable only for ``msnet.org``."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {table}_tenant ON {table} "
        f"USING ({column} = (SELECT msnet_current_org())) "
        f"WITH CHECK ({column} = (SELECT msnet_current_org()))"
    )
