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


def share(table: str, column: str = "organisation_id") -> None:
    """Forced row-level security for a shared record: its owner reads and writes it; other
    organisations read it as its ``sharing`` level allows; without an organisation, only public rows."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {table}_read ON {table} FOR SELECT USING ("
        f"sharing = 'public' OR {column} = (SELECT msnet_current_org()) "
        f"OR ((SELECT msnet_current_org()) IS NOT NULL AND (sharing = 'network' "
        f"OR (sharing = 'restricted' AND (SELECT msnet_current_org()) = ANY(share_with)))))"
    )
    for command in ("INSERT", "UPDATE", "DELETE"):  # an UPDATE's USING is its WITH CHECK too
        check = "WITH CHECK" if command == "INSERT" else "USING"
        op.execute(
            f"CREATE POLICY {table}_{command.lower()} ON {table} FOR {command} "
            f"{check} ({column} = (SELECT msnet_current_org()))"
        )
