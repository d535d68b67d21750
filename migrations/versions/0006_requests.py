"""Processes, support requests, their lifecycle events and responses.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from msnet.db.tenancy import app_role, grant, share

PROCESS_SEARCH = (
    "to_tsvector('simple', msnet_unaccent(name || ' ' || description || ' ' || msnet_join(conflict_parties)))"
)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
TEXTS = postgresql.ARRAY(sa.Text())
UUIDS = postgresql.ARRAY(sa.Uuid())


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def _force(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("countries", TEXTS, nullable=False, server_default="{}"),
        sa.Column("region", sa.String(60)),
        sa.Column("regions", TEXTS, nullable=False, server_default="{}"),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("track", sa.String(4), nullable=False),
        sa.Column("lead_mediators", UUIDS, nullable=False, server_default="{}"),
        sa.Column("conflict_parties", TEXTS, nullable=False, server_default="{}"),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("ucdp_conflict_id", sa.Integer()),
        sa.Column("peace_agreement_ids", TEXTS, nullable=False, server_default="{}"),
        sa.Column("merged_into", sa.Uuid(), sa.ForeignKey("processes.id")),
        sa.Column("merged_at", sa.DateTime(timezone=True)),
        sa.Column("sharing", sa.String(12), nullable=False),
        sa.Column("share_with", UUIDS, nullable=False, server_default="{}"),
        *_record_columns(),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(PROCESS_SEARCH, persisted=True)),
        sa.CheckConstraint("sharing IN ('private', 'restricted', 'network', 'public')", name="sharing"),
        sa.CheckConstraint("merged_into IS DISTINCT FROM id", name="not_merged_into_itself"),
    )
    op.create_index("ix_processes_merged_into", "processes", ["merged_into"])
    for column in ("countries", "regions", "search"):
        op.create_index(f"ix_processes_{column}", "processes", [column], postgresql_using="gin")
    share("processes")
    grant("processes", "SELECT, INSERT, UPDATE")

    op.create_table(
        "requests",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("office_id", sa.Uuid(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("service_types", TEXTS, nullable=False, server_default="{}"),
        sa.Column("themes", TEXTS, nullable=False, server_default="{}"),
        sa.Column("languages", TEXTS, nullable=False, server_default="{}"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "period",
            postgresql.DATERANGE(),
            sa.Computed("daterange(period_start, period_end, '[]')", persisted=True),
        ),
        sa.Column("urgency", sa.String(12), nullable=False),
        sa.Column("mandate_type", sa.String(40), nullable=False),
        sa.Column("mandate_reference", sa.String(300), nullable=False, server_default=""),
        sa.Column("route", sa.String(12), nullable=False),
        sa.Column("addressee_offices", UUIDS, nullable=False, server_default="{}"),
        sa.Column("addressee_orgs", UUIDS, nullable=False, server_default="{}"),
        sa.Column("declined_offices", UUIDS, nullable=False, server_default="{}"),
        sa.Column("routing", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("held_from", sa.String(12)),
        sa.Column("outcome", postgresql.JSONB()),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("sharing", sa.String(12), nullable=False),
        sa.Column("share_with", UUIDS, nullable=False, server_default="{}"),
        *_record_columns(),
        sa.CheckConstraint("sharing IN ('private', 'restricted')", name="sharing"),
        sa.CheckConstraint("period_end >= period_start", name="period"),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'on-hold', 'received', 'accepted', 'rejected', 'in-progress', "
            "'completed', 'cancelled')",
            name="state",
        ),
    )
    op.create_index("ix_requests_organisation", "requests", ["organisation_id", "id"])
    op.create_index("ix_requests_process", "requests", ["process_id"])
    op.create_index("ix_requests_addressee_orgs", "requests", ["addressee_orgs"], postgresql_using="gin")
    _force("requests")
    # A request is seen by its requester, and once submitted by its addressees and the organisations
    # a restricted request is shared with: nobody else, whatever their scopes. Addressees may update
    # it (their responses move its state); the service says which fields.
    seen = (
        f"organisation_id = {ORG} OR (state <> 'draft' AND ({ORG} = ANY(addressee_orgs) "
        f"OR (sharing = 'restricted' AND {ORG} = ANY(share_with))))"
    )
    op.execute(f"CREATE POLICY requests_read ON requests FOR SELECT USING ({seen})")
    op.execute(f"CREATE POLICY requests_insert ON requests FOR INSERT WITH CHECK (organisation_id = {ORG})")
    parties = f"organisation_id = {ORG} OR (state <> 'draft' AND {ORG} = ANY(addressee_orgs))"
    op.execute(
        f"CREATE POLICY requests_update ON requests FOR UPDATE USING ({parties}) WITH CHECK ({parties})"
    )
    grant("requests", "SELECT, INSERT, UPDATE")

    op.create_table(
        "request_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("from_state", sa.String(12)),
        sa.Column("to_state", sa.String(12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_request_events_request", "request_events", ["request_id", "at"])
    _force("request_events")
    # Whoever sees the request sees its history (the subquery runs under the requests' policies).
    request_seen = "EXISTS (SELECT 1 FROM requests r WHERE r.id = request_id)"
    op.execute(f"CREATE POLICY request_events_read ON request_events FOR SELECT USING ({request_seen})")
    op.execute(
        "CREATE POLICY request_events_insert ON request_events FOR INSERT "
        f"WITH CHECK (organisation_id = {ORG} AND {request_seen})"
    )
    grant("request_events", "SELECT, INSERT")

    op.create_table(
        "request_responses",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("requester_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("office_id", sa.Uuid(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("expert_ids", UUIDS, nullable=False, server_default="{}"),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False),
        *_record_columns(),
        sa.UniqueConstraint("request_id", "office_id", name="uq_request_responses_office"),
        sa.CheckConstraint("kind IN ('offer', 'decline')", name="kind"),
        sa.CheckConstraint("status IN ('open', 'accepted', 'not_selected')", name="status"),
    )
    op.create_index("ix_request_responses_office", "request_responses", ["office_id", "status"])
    _force("request_responses")
    # An offer or decline is between the responder and the requester: other addressees do not see it.
    between = f"organisation_id = {ORG} OR requester_id = {ORG}"
    op.execute(f"CREATE POLICY request_responses_read ON request_responses FOR SELECT USING ({between})")
    op.execute(
        "CREATE POLICY request_responses_insert ON request_responses FOR INSERT "
        f"WITH CHECK (organisation_id = {ORG} AND {request_seen})"
    )
    op.execute(
        f"CREATE POLICY request_responses_update ON request_responses FOR UPDATE USING ({between}) "
        f"WITH CHECK ({between})"
    )
    grant("request_responses", "SELECT, INSERT, UPDATE")

    # Routing weighs an office's current load, which lives in other organisations' rows. The schema
    # owner (who runs this) may read them, and this function, running as the owner, hands out only
    # a count per office: never which requests, processes or organisations.
    for table in ("requests", "request_responses"):
        op.execute(f"CREATE POLICY {table}_load ON {table} FOR SELECT TO CURRENT_USER USING (true)")
    op.execute(
        """
        CREATE FUNCTION msnet_office_load(office_ids uuid[]) RETURNS TABLE (office_id uuid, active integer)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$
            SELECT rr.office_id, count(*)::integer
            FROM request_responses rr JOIN requests r ON r.id = rr.request_id
            WHERE rr.office_id = ANY(office_ids) AND rr.status = 'accepted'
              AND r.state IN ('accepted', 'in-progress')
            GROUP BY rr.office_id
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION msnet_office_load(uuid[]) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION msnet_office_load(uuid[]) TO "{app_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION msnet_office_load(uuid[])")
    op.drop_table("request_responses")
    op.drop_table("request_events")
    op.drop_table("requests")
    op.drop_table("processes")
