"""Deconfliction: overlap cases, their members, the matched pairs, messages, proposals and agreements,
dismissed ("not an overlap") pairs, and the burst log that rate-limits submit and withdraw.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

Every table has forced row-level security and is readable only by the parties of its case (the
requesting and the addressed organisations of each member request). Detection must look at other
organisations' requests, which row-level security hides from the caller: that is done by one narrow
``SECURITY DEFINER`` function, ``msnet_overlap_detect``, owned by the schema owner (search path
pinned, tables schema-qualified, executable by the service role only). It takes one request id,
checks that the request is the caller's own and open (submitted or later), finds the overlapping
open requests of other organisations (the same canonical process, following ``merged_into`` both
ways; intersecting periods; intersecting service types or themes; not a pair dismissed as "not an
overlap"), opens or joins the case, and returns only the case id and whether it is news. Concurrent
detections on one canonical process queue on a transaction-level advisory lock, so concurrent
overlapping submissions open exactly one case.

A second function, ``msnet_overlap_withdraw``, carries out a resolved "withdraw": it cancels the
named member request, whichever party gave the last agreement, and returns only that request's id,
its previous state and the organisations that may see it.

The functions see across organisations through policies granted to the owner role alone
(``TO CURRENT_USER`` while migrating), which the service role can neither become nor inherit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant, isolate

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
TEXTS = postgresql.ARRAY(sa.Text())
UUIDS = postgresql.ARRAY(sa.Uuid())
OPEN = "('submitted', 'on-hold', 'received', 'accepted', 'in-progress')"
CASE_SEEN = "case_id IN (SELECT k.id FROM overlap_cases k)"  # runs under the cases' policy

DETECT = f"""
CREATE FUNCTION msnet_overlap_detect(p_request uuid, p_case uuid) RETURNS TABLE (case_id uuid, news boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := public.msnet_current_org();
    r public.requests%ROWTYPE;
    root uuid;
    family uuid[];
    matched uuid[];
    target uuid;
    added boolean := false;
    n integer;
BEGIN
    SELECT * INTO r FROM public.requests q WHERE q.id = p_request;
    IF me IS NULL OR r.id IS NULL OR r.organisation_id <> me OR r.state NOT IN {OPEN} THEN
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
    FROM public.requests o
    WHERE o.process_id = ANY (family) AND o.state IN {OPEN} AND o.organisation_id <> me
      AND o.period && r.period
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
    WHERE k.status = 'open' AND m.request_id = ANY (matched || r.id)
    ORDER BY k.created_at, k.id LIMIT 1;
    IF target IS NULL THEN
        INSERT INTO public.overlap_cases (id, process_id, status) VALUES (p_case, root, 'open');
        target := p_case;
        added := true;
    END IF;

    INSERT INTO public.overlap_members (case_id, position, request_id, organisation_id, parties)
    SELECT target,
           coalesce((SELECT max(m.position) FROM public.overlap_members m WHERE m.case_id = target), 0)
               + row_number() OVER (ORDER BY q.id),
           q.id, q.organisation_id,
           ARRAY(SELECT DISTINCT x FROM unnest(q.organisation_id || q.addressee_orgs) x ORDER BY x)
    FROM public.requests q
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
    FROM public.requests o WHERE o.id = ANY (matched)
    ON CONFLICT ON CONSTRAINT pk_overlap_pairs DO UPDATE
    SET period_start = excluded.period_start, period_end = excluded.period_end,
        service_types = excluded.service_types, themes = excluded.themes;

    UPDATE public.overlap_cases k
    SET parties = s.parties, period_start = s.period_start, period_end = s.period_end,
        service_types = s.service_types, themes = s.themes,
        version = k.version + CASE WHEN added THEN 1 ELSE 0 END, updated_at = now()
    FROM (
        SELECT ARRAY(SELECT DISTINCT x FROM public.overlap_members m, unnest(m.parties) x
                     WHERE m.case_id = target ORDER BY x) AS parties,
               min(p.period_start) AS period_start, max(p.period_end) AS period_end,
               ARRAY(SELECT DISTINCT x FROM public.overlap_pairs p2, unnest(p2.service_types) x
                     WHERE p2.case_id = target ORDER BY x) AS service_types,
               ARRAY(SELECT DISTINCT x FROM public.overlap_pairs p2, unnest(p2.themes) x
                     WHERE p2.case_id = target ORDER BY x) AS themes
        FROM public.overlap_pairs p WHERE p.case_id = target
    ) s
    WHERE k.id = target;

    RETURN QUERY SELECT target, added;
END
$$
"""

WITHDRAW = f"""
CREATE FUNCTION msnet_overlap_withdraw(p_case uuid, p_event uuid)
RETURNS TABLE (request_id uuid, from_state text, parties uuid[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := public.msnet_current_org();
    member public.overlap_members%ROWTYPE;
    q public.requests%ROWTYPE;
BEGIN
    SELECT m.* INTO member
    FROM public.overlap_cases k JOIN public.overlap_members m ON m.case_id = k.id
    WHERE k.id = p_case AND k.status = 'resolved' AND k.resolution ->> 'kind' = 'withdraw'
      AND me = ANY (k.parties) AND m.position = (k.resolution ->> 'member')::integer;
    IF member.request_id IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO q FROM public.requests WHERE id = member.request_id FOR UPDATE;
    IF q.state NOT IN {OPEN} THEN
        RETURN;
    END IF;
    UPDATE public.requests
    SET state = 'cancelled', held_from = NULL, closed_at = now(), version = version + 1, updated_at = now()
    WHERE id = q.id;
    UPDATE public.request_responses
    SET status = 'not_selected', version = version + 1
    WHERE request_responses.request_id = q.id AND status = 'open' AND kind = 'offer';
    INSERT INTO public.request_events (id, request_id, organisation_id, from_state, to_state, note)
    VALUES (p_event, q.id, q.organisation_id, q.state, 'cancelled',
            'withdrawn by the resolution of overlap case ' || p_case::text);
    RETURN QUERY SELECT q.id, q.state::text, member.parties;
END
$$
"""


def _owner_sees(table: str) -> None:
    """The definer functions (running as the owner, who migrates) read and write every row."""
    op.execute(f"CREATE POLICY {table}_definer ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")


def _force(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    op.create_table(
        "overlap_cases",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.id"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("parties", UUIDS, nullable=False, server_default="{}"),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("service_types", TEXTS, nullable=False, server_default="{}"),
        sa.Column("themes", TEXTS, nullable=False, server_default="{}"),
        sa.Column("resolution", postgresql.JSONB()),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="status"),
    )
    op.create_index("ix_overlap_cases_parties", "overlap_cases", ["parties"], postgresql_using="gin")
    _force("overlap_cases")
    parties = f"{ORG} = ANY (parties)"
    op.execute(f"CREATE POLICY overlap_cases_read ON overlap_cases FOR SELECT USING ({parties})")
    op.execute(
        f"CREATE POLICY overlap_cases_update ON overlap_cases FOR UPDATE USING ({parties}) WITH CHECK ({parties})"
    )
    _owner_sees("overlap_cases")
    grant("overlap_cases", "SELECT, UPDATE")

    op.create_table(
        "overlap_members",
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("overlap_cases.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("parties", UUIDS, nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("shared_at", sa.DateTime(timezone=True)),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("case_id", "request_id", name="uq_overlap_members_request"),
    )
    op.create_index("ix_overlap_members_request", "overlap_members", ["request_id"])
    _force("overlap_members")
    op.execute(f"CREATE POLICY overlap_members_read ON overlap_members FOR SELECT USING ({CASE_SEEN})")
    own = f"organisation_id = {ORG} AND {CASE_SEEN}"
    op.execute(
        f"CREATE POLICY overlap_members_share ON overlap_members FOR UPDATE USING ({own}) WITH CHECK ({own})"
    )
    _owner_sees("overlap_members")
    grant("overlap_members", "SELECT, UPDATE")

    op.create_table(
        "overlap_pairs",
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("overlap_cases.id")),
        sa.Column("request_a", sa.Uuid(), sa.ForeignKey("requests.id")),
        sa.Column("request_b", sa.Uuid(), sa.ForeignKey("requests.id")),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("service_types", TEXTS, nullable=False),
        sa.Column("themes", TEXTS, nullable=False),
        sa.CheckConstraint("request_a < request_b", name="ordered"),
        sa.PrimaryKeyConstraint("case_id", "request_a", "request_b", name="pk_overlap_pairs"),
    )
    _force("overlap_pairs")
    op.execute(f"CREATE POLICY overlap_pairs_read ON overlap_pairs FOR SELECT USING ({CASE_SEEN})")
    _owner_sees("overlap_pairs")
    grant("overlap_pairs", "SELECT")

    op.create_table(
        "overlap_messages",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("overlap_cases.id"), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_overlap_messages_case", "overlap_messages", ["case_id", "id"])
    _force("overlap_messages")
    op.execute(f"CREATE POLICY overlap_messages_read ON overlap_messages FOR SELECT USING ({CASE_SEEN})")
    op.execute(f"CREATE POLICY overlap_messages_insert ON overlap_messages FOR INSERT WITH CHECK ({own})")
    grant("overlap_messages", "SELECT, INSERT")

    op.create_table(
        "overlap_proposals",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("overlap_cases.id"), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lead_office_id", sa.Uuid(), sa.ForeignKey("offices.id")),
        sa.Column("member", sa.Integer()),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("agreed_by", UUIDS, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "kind IN ('coordinate', 'complementary', 'merge', 'withdraw', 'not_an_overlap')", name="kind"
        ),
        sa.CheckConstraint("status IN ('open', 'agreed', 'superseded')", name="status"),
    )
    op.create_index("ix_overlap_proposals_case", "overlap_proposals", ["case_id", "created_at"])
    _force("overlap_proposals")
    op.execute(f"CREATE POLICY overlap_proposals_read ON overlap_proposals FOR SELECT USING ({CASE_SEEN})")
    op.execute(f"CREATE POLICY overlap_proposals_insert ON overlap_proposals FOR INSERT WITH CHECK ({own})")
    op.execute(
        f"CREATE POLICY overlap_proposals_update ON overlap_proposals FOR UPDATE USING ({CASE_SEEN}) "
        f"WITH CHECK ({CASE_SEEN})"
    )
    grant("overlap_proposals", "SELECT, INSERT, UPDATE")

    op.create_table(
        "overlap_dismissals",
        sa.Column("request_a", sa.Uuid(), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("request_b", sa.Uuid(), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("overlap_cases.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("request_a < request_b", name="ordered"),
    )
    _force("overlap_dismissals")
    op.execute(f"CREATE POLICY overlap_dismissals_read ON overlap_dismissals FOR SELECT USING ({CASE_SEEN})")
    op.execute(
        f"CREATE POLICY overlap_dismissals_insert ON overlap_dismissals FOR INSERT WITH CHECK ({CASE_SEEN})"
    )
    _owner_sees("overlap_dismissals")
    grant("overlap_dismissals", "SELECT, INSERT")

    op.create_table(
        "request_bursts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_request_bursts_client", "request_bursts", ["organisation_id", "client_id", "at"])
    isolate("request_bursts")
    grant("request_bursts", "SELECT, INSERT, DELETE")

    # detection reads across organisations: open requests by process and period
    op.create_index(
        "ix_requests_open_process_period",
        "requests",
        ["process_id", "period_start", "period_end"],
        postgresql_where=sa.text(f"state IN {OPEN}"),
    )
    op.execute("CREATE POLICY processes_overlap ON processes FOR SELECT TO CURRENT_USER USING (true)")
    op.execute(
        "CREATE POLICY requests_overlap ON requests FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    op.execute(
        "CREATE POLICY request_responses_overlap ON request_responses FOR UPDATE TO CURRENT_USER "
        "USING (true) WITH CHECK (true)"
    )
    op.execute(
        "CREATE POLICY request_events_overlap ON request_events FOR INSERT TO CURRENT_USER WITH CHECK (true)"
    )
    for body, signature in (
        (DETECT, "msnet_overlap_detect(uuid, uuid)"),
        (WITHDRAW, "msnet_overlap_withdraw(uuid, uuid)"),
    ):
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{app_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION msnet_overlap_withdraw(uuid, uuid)")
    op.execute("DROP FUNCTION msnet_overlap_detect(uuid, uuid)")
    op.execute("DROP POLICY request_events_overlap ON request_events")
    op.execute("DROP POLICY request_responses_overlap ON request_responses")
    op.execute("DROP POLICY requests_overlap ON requests")
    op.execute("DROP POLICY processes_overlap ON processes")
    op.drop_index("ix_requests_open_process_period", "requests")
    for table in (
        "request_bursts",
        "overlap_dismissals",
        "overlap_proposals",
        "overlap_messages",
        "overlap_pairs",
        "overlap_members",
        "overlap_cases",
    ):
        op.drop_table(table)
