"""The database's generation: a value that changes with every committed write a cached read could show.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07

``read_generation`` holds one row, whose ``value`` is a new random UUID after each committed
transaction that changed a row of any table but the operational ones of ``UNTRACKED`` (``msnet.auth.cache``
tags each answer it keeps with the value read before the handler ran, and serves it only while the
value is the same). A dump carries the value, and DDL changes no row: ``msnet restore`` and ``msnet
migrate`` end by setting a new one, so no process serves an answer kept before either.

A row-level trigger on each tracked table (and a statement-level one for ``TRUNCATE``) marks the
transaction at its first changed row, once (a transaction-local setting remembers it), with a row in
``read_generation_marks``, whose constraint trigger is deferred to the commit: there it deletes the
mark and changes the value. A statement that changes no row (a job's ``DELETE`` of an empty queue)
leaves the value as it was. So the value changes in the same
commit as the data, never before it (a reader cannot tag old data with the new value), and the row
lock on ``read_generation`` is the last a writer takes (no cycle with the row locks of its writes).
A transaction rolled back, or a savepoint rolled back with its writes, leaves the value as it was.
The function that changes the value is ``SECURITY DEFINER`` of the schema owner: the service role
reads the value and cannot write it (it may add a mark, which only changes the value). The marking
function runs as the writer, without a ``SET`` clause: a function with one undoes, on return, the
transaction-local settings made inside it, and the transaction would be marked at every statement.
"""

from __future__ import annotations

from alembic import op

from msnet.db.tenancy import grant

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

#: The tables no cacheable read shows, written by requests and jobs that change nothing a cached
#: answer holds (the audit trail and its checkpoints, queues, replay and rate-limit records, the
#: deny list, which a cached answer's request checks itself, sign-ins and web sessions, the peers'
#: sync and poke times, the reports' facts, cells, queue and mailings). A table
#: added later is tracked unless listed here (tests/test_read_cache.py fails on one that is neither).
UNTRACKED = (
    "alembic_version",
    "audit_checkpoints",
    "audit_head",
    "audit_log",
    "digest_runs",
    "federation_messages",
    "idempotency_keys",
    "outbox_messages",
    "peers",
    "read_generation",
    "read_generation_marks",
    "report_cells",
    "report_dirty",
    "report_facts",
    "report_mailings",
    "report_state",
    "request_bursts",
    "token_denylist",
    "used_assertions",
    "web_sessions",
    "web_signins",
)
DEFINER = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


def _tracked() -> list[str]:
    rows = op.get_bind().exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [name for (name,) in rows if name not in UNTRACKED]


def upgrade() -> None:
    op.execute(
        "CREATE TABLE read_generation (only_row boolean PRIMARY KEY CHECK (only_row), value uuid NOT NULL)"
    )
    op.execute("INSERT INTO read_generation VALUES (true, gen_random_uuid())")
    grant("read_generation", "SELECT")
    op.execute("CREATE TABLE read_generation_marks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")
    grant("read_generation_marks", "INSERT")
    op.execute(
        """CREATE FUNCTION msnet_generation_mark() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF current_setting('msnet.generation_marked', true) IS DISTINCT FROM 'yes' THEN
                PERFORM set_config('msnet.generation_marked', 'yes', true);
                INSERT INTO public.read_generation_marks DEFAULT VALUES;
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        f"""CREATE FUNCTION msnet_generation_bump() RETURNS trigger {DEFINER} AS $$
        BEGIN
            DELETE FROM public.read_generation_marks WHERE id = NEW.id;
            UPDATE public.read_generation SET value = gen_random_uuid();
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER read_generation_marks_bump AFTER INSERT ON read_generation_marks "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION msnet_generation_bump()"
    )
    for table in _tracked():
        _track(table)


def _track(table: str) -> None:
    """Mark the transaction at each row of ``table`` it changes, and at its truncation."""
    op.execute(
        f"CREATE TRIGGER {table}_generation AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION msnet_generation_mark()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_generation_truncate AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION msnet_generation_mark()"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION msnet_generation_mark() CASCADE")  # with every trigger that calls it
    op.execute("DROP TABLE read_generation_marks")
    op.execute("DROP FUNCTION msnet_generation_bump()")
    op.execute("DROP TABLE read_generation")
