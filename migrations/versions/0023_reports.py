"""Reports: the facts of every submitted request, per party, and the network's cells per quarter.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

A trigger on ``requests`` and ``request_responses`` (and on ``processes``, whose names, sharing,
regions, countries and merges the figures use) marks the request in ``report_dirty``, in the
transaction of the change; one on ``trainings`` marks the training's id (no request: it only makes
the next refresh start a new generation, as the track record counts trainings).
``msnet_report_refresh(batch)`` (the ``reports.refresh`` job, every MSNET_REPORTS_REFRESH_SECONDS)
takes the marked requests, computes their rows of ``report_facts`` again, and then the cells of
``report_cells`` of every quarter whose facts changed. Both functions are ``SECURITY DEFINER`` of
the schema owner (search path pinned, tables schema-qualified): the refresh reads every
organisation's requests, responses and events, which the service role cannot. The service role
reads its own organisation's facts (row-level security) and the cells (no organisation in them:
the service applies the disclosure rule before any leaves the node); it writes neither. Each
refresh that took anything gives ``report_state`` a new random ``generation``: an answer computed
under one generation stays exact until the next (msnet.reports keeps such answers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
TEXTS = postgresql.ARRAY(sa.Text())
DEFINER = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"

MARK = f"""
CREATE FUNCTION msnet_report_mark() RETURNS trigger {DEFINER}
AS $$
BEGIN
    IF TG_TABLE_NAME = 'requests' THEN
        INSERT INTO public.report_dirty (request_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'request_responses' THEN
        INSERT INTO public.report_dirty (request_id) VALUES (NEW.request_id) ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'trainings' THEN  -- not a request: it only starts a new generation
        INSERT INTO public.report_dirty (request_id)
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END) ON CONFLICT DO NOTHING;
    ELSIF NEW.merged_into IS DISTINCT FROM OLD.merged_into OR NEW.regions IS DISTINCT FROM OLD.regions
          OR NEW.countries IS DISTINCT FROM OLD.countries OR NEW.name IS DISTINCT FROM OLD.name
          OR NEW.sharing IS DISTINCT FROM OLD.sharing OR NEW.share_with IS DISTINCT FROM OLD.share_with THEN
        INSERT INTO public.report_dirty (request_id)
        SELECT r.id FROM public.requests r WHERE r.process_id = NEW.id OR r.process_id IN (
            SELECT p.id FROM public.processes p WHERE p.merged_into = NEW.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$
"""

# The facts of the requests in v_ids: the requester's row, and one row per addressed organisation
# (its offices the request went to, their answers together).
FACTS = """
WITH r AS (
    SELECT r.id, r.organisation_id, r.office_id, r.addressee_offices, r.addressee_orgs, r.submitted_at,
           r.themes, r.service_types, COALESCE(p.merged_into, p.id) AS process_id, p.regions, p.countries,
           CASE WHEN r.outcome IS NOT NULL THEN
                    CASE WHEN (r.outcome->>'delivered')::boolean THEN 'delivered' ELSE 'not_delivered' END
                WHEN r.state IN ('rejected', 'cancelled') THEN r.state ELSE 'open' END AS outcome,
           COALESCE(r.outcome->>'reason', '') AS reason,
           (SELECT min(e.at) FROM public.request_events e
            WHERE e.request_id = r.id AND e.to_state = 'accepted') AS accepted_at
    FROM public.requests r JOIN public.processes p ON p.id = r.process_id
    WHERE r.id = ANY(v_ids) AND r.submitted_at IS NOT NULL
), x AS (
    SELECT * FROM public.request_responses WHERE request_id = ANY(v_ids)
)
INSERT INTO public.report_facts (request_id, side, organisation_id, office_ids, submitted_at, process_id,
    themes, service_types, regions, countries, outcome, reason, offers, accepted, declines, experts,
    first_response, acceptance)
SELECT r.id, 'asked', r.organisation_id, ARRAY[r.office_id], r.submitted_at, r.process_id, r.themes,
       r.service_types, r.regions, r.countries, r.outcome, r.reason,
       count(x.id) FILTER (WHERE x.kind = 'offer'), count(x.id) FILTER (WHERE x.status = 'accepted'),
       count(x.id) FILTER (WHERE x.kind = 'decline'),
       COALESCE(sum(cardinality(x.expert_ids)) FILTER (WHERE x.status = 'accepted'), 0),
       extract(epoch FROM min(x.created_at) - r.submitted_at),
       extract(epoch FROM r.accepted_at - r.submitted_at)
FROM r LEFT JOIN x ON x.request_id = r.id
GROUP BY r.id, r.office_id, r.organisation_id, r.submitted_at, r.process_id, r.themes, r.service_types,
         r.regions, r.countries, r.outcome, r.reason, r.accepted_at
UNION ALL
SELECT r.id, 'received', a.org, a.offices, r.submitted_at, r.process_id, r.themes, r.service_types,
       r.regions, r.countries, r.outcome, r.reason,
       count(x.id) FILTER (WHERE x.kind = 'offer'), count(x.id) FILTER (WHERE x.status = 'accepted'),
       count(x.id) FILTER (WHERE x.kind = 'decline'),
       COALESCE(sum(cardinality(x.expert_ids)) FILTER (WHERE x.status = 'accepted'), 0),
       extract(epoch FROM min(x.created_at) - r.submitted_at),
       CASE WHEN bool_or(x.status = 'accepted') THEN extract(epoch FROM r.accepted_at - r.submitted_at) END
FROM r CROSS JOIN LATERAL (
    SELECT o.org, array_agg(o.office) AS offices
    FROM unnest(r.addressee_offices, r.addressee_orgs) AS o(office, org) GROUP BY o.org
) a
LEFT JOIN x ON x.request_id = r.id AND x.organisation_id = a.org
GROUP BY r.id, a.org, a.offices, r.submitted_at, r.process_id, r.themes, r.service_types, r.regions,
         r.countries, r.outcome, r.reason, r.accepted_at
"""

# The network's cells of the quarters in v_quarters, from the requesters' rows (one per request).
CELLS = """
WITH f AS (
    SELECT date_trunc('quarter', submitted_at AT TIME ZONE 'UTC')::date AS quarter, *
    FROM public.report_facts
    WHERE side = 'asked' AND date_trunc('quarter', submitted_at AT TIME ZONE 'UTC')::date = ANY(v_quarters)
), keyed AS (
    SELECT 'total' AS dimension, '' AS key, f.* FROM f
    UNION ALL
    SELECT 'theme', k, f.* FROM f, unnest(CASE WHEN cardinality(f.themes) = 0 THEN ARRAY[''] ELSE f.themes END) k
    UNION ALL
    SELECT 'region', k, f.* FROM f,
        unnest(CASE WHEN cardinality(f.regions) = 0 THEN ARRAY[''] ELSE f.regions END) k
    UNION ALL
    SELECT 'service_type', k, f.* FROM f,
        unnest(CASE WHEN cardinality(f.service_types) = 0 THEN ARRAY[''] ELSE f.service_types END) k
), largest AS (
    SELECT quarter, dimension, key, max(n) AS largest
    FROM (SELECT quarter, dimension, key, count(*) AS n FROM keyed
          GROUP BY quarter, dimension, key, organisation_id) per_organisation
    GROUP BY quarter, dimension, key
)
INSERT INTO public.report_cells (quarter, dimension, key, requests, largest, offers, accepted, delivered,
    not_delivered, declines, experts, first_response_median, first_response_p90, acceptance_median,
    acceptance_p90)
SELECT k.quarter, k.dimension, k.key, count(*), l.largest, sum(k.offers), count(*) FILTER (WHERE k.accepted > 0),
       count(*) FILTER (WHERE k.outcome = 'delivered'), count(*) FILTER (WHERE k.outcome = 'not_delivered'),
       sum(k.declines), sum(k.experts),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY k.first_response),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY k.first_response),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY k.acceptance),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY k.acceptance)
FROM keyed k JOIN largest l USING (quarter, dimension, key)
GROUP BY k.quarter, k.dimension, k.key, l.largest
"""

REFRESH = f"""
CREATE FUNCTION msnet_report_refresh(batch integer) RETURNS integer {DEFINER}
AS $$
DECLARE
    v_ids uuid[];
    v_quarters date[];
BEGIN
    -- one refresh at a time: each statement after the lock sees what the previous refresh committed
    PERFORM pg_advisory_xact_lock(7412093318021);
    WITH taken AS (
        DELETE FROM public.report_dirty WHERE request_id IN (
            SELECT request_id FROM public.report_dirty ORDER BY at LIMIT batch)
        RETURNING request_id
    )
    SELECT array_agg(request_id) INTO v_ids FROM taken;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    SELECT array_agg(DISTINCT date_trunc('quarter', submitted_at AT TIME ZONE 'UTC')::date) INTO v_quarters
    FROM public.report_facts WHERE request_id = ANY(v_ids) AND side = 'asked';
    DELETE FROM public.report_facts WHERE request_id = ANY(v_ids);
    {FACTS};
    SELECT array_agg(DISTINCT q) INTO v_quarters FROM (
        SELECT unnest(COALESCE(v_quarters, '{{}}')) AS q
        UNION
        SELECT date_trunc('quarter', submitted_at AT TIME ZONE 'UTC')::date FROM public.report_facts
        WHERE request_id = ANY(v_ids) AND side = 'asked'
    ) touched;
    IF v_quarters IS NOT NULL THEN
        DELETE FROM public.report_cells WHERE quarter = ANY(v_quarters);
        {CELLS};
    END IF;
    UPDATE public.report_state SET generation = gen_random_uuid();
    RETURN cardinality(v_ids);
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "report_dirty",
        sa.Column("request_id", sa.Uuid(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "report_facts",
        sa.Column("request_id", sa.Uuid(), primary_key=True),
        sa.Column("side", sa.String(8), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), primary_key=True),
        sa.Column("office_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("process_id", sa.Uuid(), nullable=False),
        sa.Column("themes", TEXTS, nullable=False),
        sa.Column("service_types", TEXTS, nullable=False),
        sa.Column("regions", TEXTS, nullable=False),
        sa.Column("countries", TEXTS, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("declines", sa.Integer(), nullable=False),
        sa.Column("experts", sa.Integer(), nullable=False),
        sa.Column("first_response", sa.Float()),
        sa.Column("acceptance", sa.Float()),
        sa.CheckConstraint("side IN ('asked', 'received')", name="side"),
    )
    op.create_index(
        "ix_report_facts_organisation", "report_facts", ["organisation_id", "side", "submitted_at"]
    )
    op.create_index("ix_report_facts_side", "report_facts", ["side", "submitted_at"])
    op.execute("ALTER TABLE report_facts ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE report_facts FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY report_facts_read ON report_facts FOR SELECT USING (organisation_id = {ORG})")
    op.execute(
        "CREATE POLICY report_facts_definer ON report_facts TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    grant("report_facts", "SELECT")
    op.create_table(
        "report_cells",
        sa.Column("quarter", sa.Date(), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "requests",
                "largest",
                "offers",
                "accepted",
                "delivered",
                "not_delivered",
                "declines",
                "experts",
            )
        ),
        *(
            sa.Column(name, sa.Float())
            for name in ("first_response_median", "first_response_p90", "acceptance_median", "acceptance_p90")
        ),
    )
    grant("report_cells", "SELECT")
    op.create_table("report_state", sa.Column("generation", sa.Uuid(), primary_key=True))
    op.execute("INSERT INTO report_state (generation) VALUES (gen_random_uuid())")
    grant("report_state", "SELECT")
    # the refresh reads every organisation's events (requests, responses and processes have such a
    # policy for the owner already: migrations 0006 and 0009)
    op.execute(
        "CREATE POLICY request_events_reports ON request_events FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(MARK)
    op.execute(
        "CREATE TRIGGER requests_report_mark AFTER INSERT OR UPDATE ON requests "
        "FOR EACH ROW EXECUTE FUNCTION msnet_report_mark()"
    )
    op.execute(
        "CREATE TRIGGER request_responses_report_mark AFTER INSERT OR UPDATE ON request_responses "
        "FOR EACH ROW EXECUTE FUNCTION msnet_report_mark()"
    )
    op.execute(
        "CREATE TRIGGER processes_report_mark AFTER UPDATE ON processes "
        "FOR EACH ROW EXECUTE FUNCTION msnet_report_mark()"
    )
    op.execute(
        "CREATE TRIGGER trainings_report_mark AFTER INSERT OR UPDATE OR DELETE ON trainings "
        "FOR EACH ROW EXECUTE FUNCTION msnet_report_mark()"
    )
    op.execute(REFRESH)
    op.execute("REVOKE ALL ON FUNCTION msnet_report_refresh(integer) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION msnet_report_refresh(integer) TO "{app_role()}"')
    op.execute("INSERT INTO report_dirty (request_id) SELECT id FROM requests")


def downgrade() -> None:
    op.execute("DROP TRIGGER trainings_report_mark ON trainings")
    op.execute("DROP TRIGGER processes_report_mark ON processes")
    op.execute("DROP TRIGGER request_responses_report_mark ON request_responses")
    op.execute("DROP TRIGGER requests_report_mark ON requests")
    op.execute("DROP FUNCTION msnet_report_refresh(integer)")
    op.execute("DROP FUNCTION msnet_report_mark()")
    op.execute("DROP POLICY request_events_reports ON request_events")
    op.drop_table("report_state")
    op.drop_table("report_cells")
    op.drop_table("report_facts")
    op.drop_table("report_dirty")
