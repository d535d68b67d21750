"""Deconfliction across nodes: the minimal facts a coordinator holds of other nodes' requests, the
opaque references a requester's node gives its requests, and cases mirrored from a coordinator.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07

The home node of a process coordinates its overlaps. ``overlap_facts`` (on the coordinator) holds,
for each open request on one of its processes submitted on another node, only what detection
needs: the requesting organisation, the sending peer, the process, the period, the service types
and an opaque reference (never a title, description, themes or addressees). ``overlap_references``
(on the requester's node) maps each of its requests it told a coordinator of to that reference.

A case's members may now be another node's requests, named by their reference: the foreign keys of
members, pairs and dismissals to ``requests`` go (ids and references are UUIDs, never reused), and
``overlap_members.node`` names the node holding a member (NULL: this one). A case coordinated by
another node is a mirror here (``overlap_cases.coordinator``, its issuer), written only through
``msnet_overlap_mirror``.

Detection reads this node's open requests (not the copies it holds of requests addressed to it from
other nodes) and remote facts alike through ``msnet_overlap_open`` (a view of the schema owner that
the service role cannot read): ``msnet_overlap_match`` is the detection
of migration 0009 over it, called by ``msnet_overlap_detect`` (a local request, as before) and
``msnet_overlap_detect_fact`` (a fact, for its organisation). ``msnet_overlap_leave`` takes a
withdrawn request (or fact) out of its open cases; a case left with a single organisation is
resolved. ``msnet_overlap_snapshot`` is what a coordinator tells the parties' nodes of a case. A
process merged into another moves its open cases with it (a trigger, so that a merge replicated
from the process's home moves the mirrors too).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant, isolate

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

TEXTS = postgresql.ARRAY(sa.Text())
OPEN = "('submitted', 'on-hold', 'received', 'accepted', 'in-progress')"
MEMBER_FKS = (
    ("overlap_members", "request_id"),
    ("overlap_pairs", "request_a"),
    ("overlap_pairs", "request_b"),
    ("overlap_dismissals", "request_a"),
    ("overlap_dismissals", "request_b"),
)

OPEN_VIEW = f"""
CREATE VIEW msnet_overlap_open AS
SELECT q.id, q.organisation_id, q.process_id, q.period_start, q.period_end, q.service_types, q.themes,
       ARRAY(SELECT DISTINCT x FROM unnest(q.organisation_id || q.addressee_orgs) x ORDER BY x) AS parties,
       NULL::text AS node
FROM public.requests q
WHERE q.state IN {OPEN}
  AND EXISTS (SELECT 1 FROM public.organisations g WHERE g.id = q.organisation_id AND g.home IS NULL)
UNION ALL
SELECT f.reference, f.organisation_id, f.process_id, f.period_start, f.period_end, f.service_types,
       '{{}}'::text[], ARRAY[f.organisation_id], p.issuer
FROM public.overlap_facts f JOIN public.peers p ON p.id = f.peer_id
"""

MATCH = """
CREATE FUNCTION msnet_overlap_match(p_subject uuid, p_case uuid) RETURNS TABLE (case_id uuid, news boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    root uuid;
    family uuid[];
    matched uuid[];
    target uuid;
    added boolean := false;
    n integer;
BEGIN
    SELECT * INTO r FROM public.msnet_overlap_open o WHERE o.id = p_subject;
    IF r.id IS NULL THEN
        RETURN;
    END IF;
    WITH RECURSIVE up (id, merged_into, depth) AS (
        SELECT p.id, p.merged_into, 0 FROM public.processes p WHERE p.id = r.process_id
        UNION ALL
        SELECT p.id, p.merged_into, up.depth + 1 FROM public.processes p JOIN up ON p.id = up.merged_into
        WHERE up.depth < 32
    )
    SELECT up.id INTO root FROM up WHERE up.merged_into IS NULL;
    WITH RECURSIVE down (id) AS (
        SELECT root
        UNION
        SELECT p.id FROM public.processes p JOIN down ON p.merged_into = down.id
    )
    SELECT array_agg(down.id) INTO family FROM down;
    PERFORM pg_advisory_xact_lock(hashtextextended('msnet.overlap.' || root::text, 0));

    SELECT array_agg(o.id ORDER BY o.id) INTO matched
    FROM public.msnet_overlap_open o
    WHERE o.process_id = ANY (family) AND o.organisation_id <> r.organisation_id
      AND daterange(o.period_start, o.period_end, '[]') && daterange(r.period_start, r.period_end, '[]')
      AND (o.service_types && r.service_types OR o.themes && r.themes)
      AND NOT EXISTS (
          SELECT 1 FROM public.overlap_dismissals d
          WHERE d.request_a = least(o.id, r.id) AND d.request_b = greatest(o.id, r.id)
      );
    IF matched IS NULL THEN
        RETURN;
    END IF;

    SELECT k.id INTO target
    FROM public.overlap_cases k JOIN public.overlap_members m ON m.case_id = k.id
    WHERE k.status = 'open' AND k.coordinator IS NULL AND m.request_id = ANY (matched || r.id)
    ORDER BY k.created_at, k.id LIMIT 1;
    IF target IS NULL THEN
        INSERT INTO public.overlap_cases (id, process_id, status) VALUES (p_case, root, 'open');
        target := p_case;
        added := true;
    END IF;

    INSERT INTO public.overlap_members (case_id, position, request_id, organisation_id, parties, node)
    SELECT target,
           coalesce((SELECT max(m.position) FROM public.overlap_members m WHERE m.case_id = target), 0)
               + row_number() OVER (ORDER BY q.id),
           q.id, q.organisation_id, q.parties, q.node
    FROM public.msnet_overlap_open q
    WHERE q.id = ANY (matched || r.id)
      AND NOT EXISTS (SELECT 1 FROM public.overlap_members m WHERE m.case_id = target AND m.request_id = q.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    added := added OR n > 0;

    INSERT INTO public.overlap_pairs AS p (case_id, request_a, request_b, period_start, period_end,
                                           service_types, themes)
    SELECT target, least(o.id, r.id), greatest(o.id, r.id),
           greatest(o.period_start, r.period_start), least(o.period_end, r.period_end),
           ARRAY(SELECT unnest(o.service_types) INTERSECT SELECT unnest(r.service_types) ORDER BY 1),
           ARRAY(SELECT unnest(o.themes) INTERSECT SELECT unnest(r.themes) ORDER BY 1)
    FROM public.msnet_overlap_open o WHERE o.id = ANY (matched)
    ON CONFLICT ON CONSTRAINT pk_overlap_pairs DO UPDATE
    SET period_start = excluded.period_start, period_end = excluded.period_end,
        service_types = excluded.service_types, themes = excluded.themes;

    PERFORM public.msnet_overlap_recount(target, added);
    RETURN QUERY SELECT target, added;
END
$$
"""

RECOUNT = """
CREATE FUNCTION msnet_overlap_recount(p_case uuid, p_bump boolean) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE public.overlap_cases k
    SET parties = ARRAY(SELECT DISTINCT x FROM public.overlap_members m, unnest(m.parties) x
                        WHERE m.case_id = k.id ORDER BY x),
        period_start = coalesce((SELECT min(p.period_start) FROM public.overlap_pairs p
                                 WHERE p.case_id = k.id), k.period_start),
        period_end = coalesce((SELECT max(p.period_end) FROM public.overlap_pairs p
                               WHERE p.case_id = k.id), k.period_end),
        service_types = CASE WHEN EXISTS (SELECT 1 FROM public.overlap_pairs p WHERE p.case_id = k.id)
            THEN ARRAY(SELECT DISTINCT x FROM public.overlap_pairs p, unnest(p.service_types) x
                       WHERE p.case_id = k.id ORDER BY x) ELSE k.service_types END,
        themes = CASE WHEN EXISTS (SELECT 1 FROM public.overlap_pairs p WHERE p.case_id = k.id)
            THEN ARRAY(SELECT DISTINCT x FROM public.overlap_pairs p, unnest(p.themes) x
                       WHERE p.case_id = k.id ORDER BY x) ELSE k.themes END,
        version = k.version + CASE WHEN p_bump THEN 1 ELSE 0 END, updated_at = now()
    WHERE k.id = p_case;
$$
"""

DETECT = f"""
CREATE OR REPLACE FUNCTION msnet_overlap_detect(p_request uuid, p_case uuid)
RETURNS TABLE (case_id uuid, news boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM public.requests q
        WHERE q.id = p_request AND q.organisation_id = public.msnet_current_org() AND q.state IN {OPEN}
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM public.msnet_overlap_match(p_request, p_case);
END
$$
"""

DETECT_FACT = """
CREATE FUNCTION msnet_overlap_detect_fact(p_reference uuid, p_case uuid)
RETURNS TABLE (case_id uuid, news boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM public.overlap_facts f
        WHERE f.reference = p_reference AND f.organisation_id = public.msnet_current_org()
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM public.msnet_overlap_match(p_reference, p_case);
END
$$
"""

LEAVE = """
CREATE FUNCTION msnet_overlap_leave(p_member uuid)
RETURNS TABLE (case_id uuid, nodes text[], snapshot jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := public.msnet_current_org();
    k record;
BEGIN
    FOR k IN
        SELECT c.id, ARRAY(SELECT DISTINCT m2.node FROM public.overlap_members m2
                           WHERE m2.case_id = c.id AND m2.node IS NOT NULL ORDER BY 1) AS nodes
        FROM public.overlap_cases c JOIN public.overlap_members m ON m.case_id = c.id
        WHERE c.status = 'open' AND c.coordinator IS NULL AND m.request_id = p_member
          AND m.organisation_id = me
          AND EXISTS (SELECT 1 FROM public.overlap_members x WHERE x.case_id = c.id AND x.node IS NOT NULL)
        FOR UPDATE OF c
    LOOP
        DELETE FROM public.overlap_pairs p WHERE p.case_id = k.id AND p_member IN (p.request_a, p.request_b);
        DELETE FROM public.overlap_members m WHERE m.case_id = k.id AND m.request_id = p_member;
        PERFORM public.msnet_overlap_recount(k.id, true);
        UPDATE public.overlap_cases c SET status = 'resolved', resolved_at = now()
        WHERE c.id = k.id
          AND (SELECT count(DISTINCT m.organisation_id) FROM public.overlap_members m WHERE m.case_id = k.id) < 2;
        RETURN QUERY SELECT k.id, k.nodes, public.msnet_overlap_snapshot_of(k.id);
    END LOOP;
END
$$
"""

SNAPSHOT = """
CREATE FUNCTION msnet_overlap_snapshot_of(p_case uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'id', k.id, 'process_id', k.process_id, 'status', k.status, 'version', k.version,
        'parties', to_jsonb(k.parties), 'period_start', k.period_start, 'period_end', k.period_end,
        'service_types', to_jsonb(k.service_types), 'themes', to_jsonb(k.themes),
        'members', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'position', m.position, 'organisation_id', m.organisation_id, 'parties', to_jsonb(m.parties),
                'node', m.node, 'reference', CASE WHEN m.node IS NULL
                    THEN md5(k.id::text || m.request_id::text)::uuid ELSE m.request_id END
            ) ORDER BY m.position)
            FROM public.overlap_members m WHERE m.case_id = k.id), '[]'::jsonb),
        'pairs', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'a', (SELECT m.position FROM public.overlap_members m
                      WHERE m.case_id = k.id AND m.request_id = p.request_a),
                'b', (SELECT m.position FROM public.overlap_members m
                      WHERE m.case_id = k.id AND m.request_id = p.request_b),
                'period_start', p.period_start, 'period_end', p.period_end,
                'service_types', to_jsonb(p.service_types), 'themes', to_jsonb(p.themes)
            ) ORDER BY p.request_a, p.request_b)
            FROM public.overlap_pairs p WHERE p.case_id = k.id), '[]'::jsonb)
    )
    FROM public.overlap_cases k
    WHERE k.id = p_case AND k.coordinator IS NULL
$$
"""

SNAPSHOT_PARTY = """
CREATE FUNCTION msnet_overlap_snapshot(p_case uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT public.msnet_overlap_snapshot_of(k.id) FROM public.overlap_cases k
    WHERE k.id = p_case AND public.msnet_current_org() = ANY (k.parties)
$$
"""

MIRROR = """
CREATE FUNCTION msnet_overlap_mirror(p jsonb, p_coordinator text, p_may_open boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k uuid := (p ->> 'id')::uuid;
    held public.overlap_cases%ROWTYPE;
BEGIN
    SELECT * INTO held FROM public.overlap_cases c WHERE c.id = k FOR UPDATE;
    IF held.id IS NULL AND NOT p_may_open THEN
        RAISE EXCEPTION 'case % is not held here', k USING ERRCODE = '42501';
    END IF;
    IF held.id IS NOT NULL AND (held.coordinator IS DISTINCT FROM p_coordinator) THEN
        RAISE EXCEPTION 'case % is not coordinated by %', k, p_coordinator USING ERRCODE = '42501';
    END IF;
    IF held.id IS NOT NULL AND held.version > (p ->> 'version')::integer THEN
        RETURN false;
    END IF;
    INSERT INTO public.overlap_cases AS c (id, process_id, status, parties, period_start, period_end,
                                           service_types, themes, version, coordinator, resolved_at)
    VALUES (k, (p ->> 'process_id')::uuid, p ->> 'status',
            ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(p -> 'parties') x),
            (p ->> 'period_start')::date, (p ->> 'period_end')::date,
            ARRAY(SELECT jsonb_array_elements_text(p -> 'service_types')),
            ARRAY(SELECT jsonb_array_elements_text(p -> 'themes')),
            (p ->> 'version')::integer, p_coordinator,
            CASE WHEN p ->> 'status' = 'resolved' THEN now() END)
    ON CONFLICT (id) DO UPDATE
    SET process_id = excluded.process_id, parties = excluded.parties,
        period_start = excluded.period_start, period_end = excluded.period_end,
        service_types = excluded.service_types, themes = excluded.themes, version = excluded.version,
        status = CASE WHEN c.status = 'resolved' THEN 'resolved' ELSE excluded.status END,
        resolved_at = coalesce(c.resolved_at, excluded.resolved_at), updated_at = now();
    DELETE FROM public.overlap_pairs WHERE case_id = k;
    DELETE FROM public.overlap_members m
    WHERE m.case_id = k AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p -> 'members') x
        WHERE (x ->> 'position')::integer = m.position AND (x ->> 'request_id')::uuid = m.request_id);
    INSERT INTO public.overlap_members (case_id, position, request_id, organisation_id, parties, node)
    SELECT k, (x ->> 'position')::integer, (x ->> 'request_id')::uuid, (x ->> 'organisation_id')::uuid,
           ARRAY(SELECT y::uuid FROM jsonb_array_elements_text(x -> 'parties') y), x ->> 'node'
    FROM jsonb_array_elements(p -> 'members') x
    ON CONFLICT (case_id, position) DO NOTHING;
    INSERT INTO public.overlap_pairs (case_id, request_a, request_b, period_start, period_end,
                                      service_types, themes)
    SELECT k, least((x ->> 'a')::uuid, (x ->> 'b')::uuid), greatest((x ->> 'a')::uuid, (x ->> 'b')::uuid),
           (x ->> 'period_start')::date, (x ->> 'period_end')::date,
           ARRAY(SELECT jsonb_array_elements_text(x -> 'service_types')),
           ARRAY(SELECT jsonb_array_elements_text(x -> 'themes'))
    FROM jsonb_array_elements(p -> 'pairs') x;
    RETURN true;
END
$$
"""


def _withdraw_0009() -> str:
    """The withdrawal of a resolved "withdraw" case: it now cancels the member only on the node that
    holds its request (a member of another node is cancelled there, when the resolution reaches it)."""
    return (
        _of_0009("WITHDRAW")
        .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        .replace("IF q.state NOT IN", "IF q.id IS NULL OR q.state NOT IN", 1)
    )


FOLLOW_MERGE = """
CREATE FUNCTION msnet_overlap_follow_merge() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.overlap_cases SET process_id = NEW.merged_into, updated_at = now()
    WHERE process_id = NEW.id AND status = 'open';
    RETURN NULL;
END
$$
"""

FUNCTIONS = {
    "msnet_overlap_detect_fact(uuid, uuid)": DETECT_FACT,
    "msnet_overlap_leave(uuid)": LEAVE,
    "msnet_overlap_snapshot(uuid)": SNAPSHOT_PARTY,
    "msnet_overlap_mirror(jsonb, text, boolean)": MIRROR,
}


def _of_0009(name: str) -> str:
    """A function of migration 0009, as it made it."""
    spec = importlib.util.spec_from_file_location(
        "overlaps_0009", Path(__file__).with_name("0009_overlaps.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def upgrade() -> None:
    for table, column in MEMBER_FKS:
        op.drop_constraint(f"fk_{table}_{column}_requests", table, type_="foreignkey")
    op.add_column("overlap_cases", sa.Column("coordinator", sa.Text()))
    op.add_column("overlap_members", sa.Column("node", sa.Text()))

    op.create_table(
        "overlap_facts",
        sa.Column("reference", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("peer_id", sa.Uuid(), sa.ForeignKey("peers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.id"), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("service_types", TEXTS, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("period_start <= period_end", name="period"),
    )
    op.create_index("ix_overlap_facts_process", "overlap_facts", ["process_id"])
    isolate("overlap_facts")
    op.execute(
        "CREATE POLICY overlap_facts_definer ON overlap_facts TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    grant("overlap_facts", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "overlap_references",
        sa.Column("request_id", sa.Uuid(), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("reference", sa.Uuid(), nullable=False, unique=True),
        sa.Column("coordinator", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False, server_default="0"),
    )
    isolate("overlap_references")
    grant("overlap_references", "SELECT, INSERT, UPDATE")

    op.execute(OPEN_VIEW)
    op.execute(f'REVOKE ALL ON msnet_overlap_open FROM PUBLIC, "{app_role()}"')
    op.execute(RECOUNT)
    op.execute(MATCH)
    op.execute(SNAPSHOT)
    for internal in (
        "msnet_overlap_recount(uuid, boolean)",
        "msnet_overlap_match(uuid, uuid)",
        "msnet_overlap_snapshot_of(uuid)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {internal} FROM PUBLIC")
    op.execute(DETECT)
    op.execute(_withdraw_0009())
    for signature, body in FUNCTIONS.items():
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{app_role()}"')
    op.execute(FOLLOW_MERGE)
    op.execute("REVOKE ALL ON FUNCTION msnet_overlap_follow_merge() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER processes_overlap_follow_merge AFTER UPDATE OF merged_into ON processes "
        "FOR EACH ROW WHEN (NEW.merged_into IS NOT NULL AND OLD.merged_into IS DISTINCT FROM NEW.merged_into) "
        "EXECUTE FUNCTION msnet_overlap_follow_merge()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER processes_overlap_follow_merge ON processes")
    op.execute("DROP FUNCTION msnet_overlap_follow_merge()")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
    for name in ("DETECT", "WITHDRAW"):
        op.execute(_of_0009(name).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION msnet_overlap_snapshot_of(uuid)")
    op.execute("DROP FUNCTION msnet_overlap_match(uuid, uuid)")
    op.execute("DROP FUNCTION msnet_overlap_recount(uuid, boolean)")
    op.execute("DROP VIEW msnet_overlap_open")
    op.drop_table("overlap_references")
    op.drop_table("overlap_facts")
    op.drop_column("overlap_members", "node")
    op.drop_column("overlap_cases", "coordinator")
    for table, column in MEMBER_FKS:
        op.create_foreign_key(f"fk_{table}_{column}_requests", table, "requests", [column], ["id"])
