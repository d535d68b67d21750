"""Each office's search document: its text and sharing, and the terms of its capacities, in one row.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07

The office search joined every office matching the text to each of its capacities and removed the
repeated facet terms of an office's capacities, about 26,000 rows for 2,000 offices. ``office_search``
keeps, for each office, what that search reads: a copy of the office's ``search``, organisation,
``sharing`` and ``share_with``, and over its capacities the union of their terms by facet (themes,
service types, languages, regions with the areas of their countries, countries), the terms every one
of them has (``common_*``) and the oldest confirmation. An office whose capacities all meet the
search's filters (each filter term is common to them) answers from its row alone; the others are
searched through their capacities, as before.

The capacities' terms are kept only when every reader of the office may read every one of its
capacities (each capacity is shared at least as widely as the office; a capacity is always its
office's organisation's); otherwise they are NULL and the search reads the capacities a caller may
see. So the row shows no reader of the office anything of a capacity hidden from it, and its policy
is the office's.

``msnet_office_search_refresh(office)`` writes an office's row again from the office and its
capacities: the triggers call it after an office is inserted or its text, organisation or sharing
changes, and after a capacity is inserted, deleted or changes a term, its office, its confirmation or
its sharing, whoever writes (the services, the federation's apply, a cascade). It first locks the
row, then reads in a new statement: of two transactions changing capacities of one office, the
second waits for the first to commit and reads its changes (read committed), so no change is lost.
The function is ``SECURITY DEFINER`` (search path pinned, tables schema-qualified), the owner reads
offices and capacities for it and writes the table; the service role only reads it.
``msnet_union`` and ``msnet_common`` aggregate text arrays into the distinct terms of any and of every
one of them (sorted); the search's own reading of an office's capacities uses ``msnet_union`` too.
"""

from __future__ import annotations

from alembic import op

from msnet.db.tenancy import grant

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

ORG = "(SELECT msnet_current_org())"
DEFINER = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
#: The union and the common terms of an office's capacities, by column of ``office_search``.
FACETS = {
    "themes": "c.themes",
    "service_types": "ARRAY[c.service_type::text]",
    "languages": "c.languages",
    "regions": "array_cat(c.regions, c.country_areas)",
    "countries": "c.countries",
}
#: Whether capacity ``c`` is read by every reader of office ``o`` (of the same organisation).
COVERS = """c.organisation_id = o.organisation_id AND CASE o.sharing
    WHEN 'private' THEN true
    WHEN 'restricted' THEN c.sharing IN ('network', 'public')
        OR (c.sharing = 'restricted' AND c.share_with @> o.share_with)
    WHEN 'network' THEN c.sharing IN ('network', 'public')
    ELSE c.sharing = 'public' END"""
COLUMNS = [*FACETS, *(f"common_{name}" for name in FACETS), "oldest"]
AGGREGATES = ",\n            ".join(
    [
        *(f"public.msnet_union({term}) AS {name}" for name, term in FACETS.items()),
        *(f"public.msnet_common({term}) AS common_{name}" for name, term in FACETS.items()),
        "min(c.last_confirmed_at) AS oldest",
    ]
)
KEPT = ", ".join(
    [
        *(f"CASE WHEN s.covered THEN coalesce(s.{c}, '{{}}') END" for c in COLUMNS[:-1]),
        "CASE WHEN s.covered THEN s.oldest END",
    ]
)

REFRESH = f"""
CREATE FUNCTION msnet_office_search_refresh(p_office uuid) RETURNS void {DEFINER}
AS $$
BEGIN
    PERFORM 1 FROM public.office_search WHERE office_id = p_office FOR UPDATE;
    INSERT INTO public.office_search
        (office_id, organisation_id, sharing, share_with, search, {", ".join(COLUMNS)})
    SELECT o.id, o.organisation_id, o.sharing, o.share_with, o.search, {KEPT}
    FROM public.offices o
    CROSS JOIN LATERAL (
        SELECT coalesce(bool_and({COVERS}), true) AS covered,
            {AGGREGATES}
        FROM public.capacities c WHERE c.office_id = o.id
    ) s
    WHERE o.id = p_office
    ON CONFLICT (office_id) DO UPDATE SET
        organisation_id = EXCLUDED.organisation_id, sharing = EXCLUDED.sharing,
        share_with = EXCLUDED.share_with, search = EXCLUDED.search,
        {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS)};
END
$$
"""
OFFICE_CHANGED = f"""
CREATE FUNCTION msnet_office_changed() RETURNS trigger {DEFINER}
AS $$
BEGIN
    PERFORM public.msnet_office_search_refresh(NEW.id);
    RETURN NULL;
END
$$
"""
CAPACITY_CHANGED = f"""
CREATE FUNCTION msnet_capacity_changed() RETURNS trigger {DEFINER}
AS $$
BEGIN
    -- A capacity moved to another office (a replicated change may do that) changes both; they are
    -- refreshed in the order of their ids, so two such moves cannot wait for each other.
    IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.office_id < NEW.office_id) THEN
        PERFORM public.msnet_office_search_refresh(OLD.office_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM public.msnet_office_search_refresh(NEW.office_id);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.office_id > NEW.office_id THEN
        PERFORM public.msnet_office_search_refresh(OLD.office_id);
    END IF;
    RETURN NULL;
END
$$
"""
#: The columns whose change changes an office's row, or what its capacities give it.
OFFICE_COLUMNS = "name, parent_structure, mandate, organisation_id, sharing, share_with"
CAPACITY_COLUMNS = "office_id, organisation_id, service_type, themes, countries, regions, languages, last_confirmed_at, sharing, share_with"


def upgrade() -> None:
    op.execute(
        """CREATE FUNCTION msnet_distinct(text[]) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') FROM unnest($1) t $$"""
    )
    op.execute(
        """CREATE FUNCTION msnet_intersect(text[], text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT CASE WHEN $1 IS NULL THEN $2
                     ELSE ARRAY(SELECT unnest($1) INTERSECT SELECT unnest($2)) END $$"""
    )
    op.execute(
        "CREATE AGGREGATE msnet_union(text[]) (SFUNC = array_cat, STYPE = text[], FINALFUNC = msnet_distinct)"
    )
    op.execute(
        "CREATE AGGREGATE msnet_common(text[]) (SFUNC = msnet_intersect, STYPE = text[], FINALFUNC = msnet_distinct)"
    )
    op.execute(
        f"""CREATE TABLE office_search (
            office_id uuid PRIMARY KEY REFERENCES offices (id) ON DELETE CASCADE,
            organisation_id uuid NOT NULL,
            sharing varchar(12) NOT NULL,
            share_with uuid[] NOT NULL,
            search tsvector,
            {", ".join(f"{c} text[]" for c in COLUMNS[:-1])},
            oldest timestamptz
        )"""
    )
    op.execute("CREATE INDEX ix_office_search_search ON office_search USING gin (search)")
    op.execute("ALTER TABLE office_search ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE office_search FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY office_search_read ON office_search FOR SELECT USING ("
        f"sharing = 'public' OR organisation_id = {ORG} OR ({ORG} IS NOT NULL AND (sharing = 'network' "
        f"OR (sharing = 'restricted' AND {ORG} = ANY(share_with)))))"
    )
    op.execute(
        "CREATE POLICY office_search_definer ON office_search TO CURRENT_USER USING (true) WITH CHECK (true)"
    )
    grant("office_search", "SELECT")
    op.execute(  # tracked, as every table is for the read cache (migration 0035)
        "CREATE TRIGGER office_search_generation AFTER INSERT OR UPDATE OR DELETE ON office_search "
        "FOR EACH ROW EXECUTE FUNCTION msnet_generation_mark()"
    )
    op.execute(
        "CREATE TRIGGER office_search_generation_truncate AFTER TRUNCATE ON office_search "
        "FOR EACH STATEMENT EXECUTE FUNCTION msnet_generation_mark()"
    )
    for table in ("offices", "capacities"):
        op.execute(f"CREATE POLICY {table}_search ON {table} FOR SELECT TO CURRENT_USER USING (true)")
    op.execute(REFRESH)
    op.execute(OFFICE_CHANGED)
    op.execute(CAPACITY_CHANGED)
    op.execute(
        f"CREATE TRIGGER offices_search AFTER INSERT OR UPDATE OF {OFFICE_COLUMNS} ON offices "
        "FOR EACH ROW EXECUTE FUNCTION msnet_office_changed()"
    )
    op.execute(
        f"CREATE TRIGGER capacities_search AFTER INSERT OR DELETE OR UPDATE OF {CAPACITY_COLUMNS} "
        "ON capacities FOR EACH ROW EXECUTE FUNCTION msnet_capacity_changed()"
    )
    op.execute("SELECT msnet_office_search_refresh(id) FROM offices")


def downgrade() -> None:
    op.execute("DROP TRIGGER capacities_search ON capacities")
    op.execute("DROP TRIGGER offices_search ON offices")
    op.execute("DROP FUNCTION msnet_capacity_changed()")
    op.execute("DROP FUNCTION msnet_office_changed()")
    op.execute("DROP FUNCTION msnet_office_search_refresh(uuid)")
    for table in ("offices", "capacities"):
        op.execute(f"DROP POLICY {table}_search ON {table}")
    op.execute("DROP TABLE office_search")
    op.execute("DROP AGGREGATE msnet_common(text[])")
    op.execute("DROP AGGREGATE msnet_union(text[])")
    op.execute("DROP FUNCTION msnet_intersect(text[], text[])")
    op.execute("DROP FUNCTION msnet_distinct(text[])")
