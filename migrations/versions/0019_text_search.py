"""One text search for every searchable record: English and French stems, accents dropped.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Only the roster's search was stemmed: offices, capacities, processes, trainings and publications
matched the exact word ('ceasefire' missed 'ceasefires', 'mediator' found no office that does
'mediation'). Every ``search`` column is now ``msnet_document(text)`` and every query
``msnet_query(q)``, the one definition of what a word matches:

- two text search configurations, ``msnet_english`` and ``msnet_french``: PostgreSQL's own, with
  the ``unaccent`` dictionary (a filtering one) before the stemmer for words with letters beyond
  ASCII, so 'médiation', 'Médiations' and 'mediation' are one lexeme. A configuration gives each
  word one lexeme (a stemmer accepts every word, so a chain of two never reaches the second):
  English and French need a configuration each.
- ``msnet_document(text)``: the English and the French lexemes of the text, in one tsvector.
  Declared immutable, as a generated column needs (``to_tsvector`` with a named configuration is;
  the ``unaccent()`` function, used before, is only stable, hence the wrapper it needed).
- ``msnet_query(text)``: the words of a ``websearch_to_tsquery`` search as either configuration
  reads them, each distinct reading once (the two often agree, and an index scans a term as often
  as the query names it); NULL, matching nothing, when neither finds a word to search.

A record matches when the whole query, read in English or in French, matches its lexemes.
``msnet_unaccent`` had no other use and goes. The GIN indexes on the columns are rebuilt as they
were (the directory's and the roster's with their taxonomy columns).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: Each table's searched text, and its GIN indexes on ``search`` (name: columns).
TEXT = {
    "offices": "name || ' ' || parent_structure || ' ' || mandate",
    "capacities": "notes",
    "experts": "name || ' ' || bio || ' ' || msnet_join(affiliations) || ' ' || msnet_join(past_processes)",
    "processes": "name || ' ' || description || ' ' || msnet_join(conflict_parties)",
    "trainings": "title || ' ' || description || ' ' || coalesce(city, '')",
    "publications": "title || ' ' || summary",
}
INDEXES = {
    "offices": {"ix_offices_search": ["search"]},
    "capacities": {
        "ix_capacities_terms": ["search", "themes", "countries", "regions", "languages", "country_areas"]
    },
    "experts": {
        "ix_experts_terms": [
            "search",
            "themes",
            "service_types",
            "language_codes",
            "regions",
            "experience",
            "nationalities",
            "term_pairs",
        ]
    },
    "processes": {"ix_processes_search": ["search"]},
    "trainings": {"ix_trainings_search": ["search"]},
    "publications": {"ix_publications_search": ["search"]},
}
#: The columns as they were before this revision.
BEFORE = {
    "offices": "to_tsvector('simple', msnet_unaccent(name || ' ' || parent_structure || ' ' || mandate))",
    "capacities": "to_tsvector('simple', msnet_unaccent(notes))",
    "experts": (
        "to_tsvector('english', msnet_unaccent(name || ' ' || bio)) || "
        "to_tsvector('french', msnet_unaccent(name || ' ' || bio)) || "
        "to_tsvector('simple', msnet_unaccent(name || ' ' || bio || ' ' || "
        "msnet_join(affiliations) || ' ' || msnet_join(past_processes)))"
    ),
    "processes": (
        "to_tsvector('simple', msnet_unaccent(name || ' ' || description || ' ' || msnet_join(conflict_parties)))"
    ),
    "trainings": "to_tsvector('simple', msnet_unaccent(title || ' ' || description || ' ' || coalesce(city, '')))",
    "publications": "to_tsvector('simple', msnet_unaccent(title || ' ' || summary))",
}
CONFIGURATIONS = {"msnet_english": "english", "msnet_french": "french"}


def _replace_columns(expressions: dict[str, str]) -> None:
    for table, expression in expressions.items():
        for index in INDEXES[table]:
            op.drop_index(index, table)
        op.drop_column(table, "search")
        op.add_column(
            table, sa.Column("search", postgresql.TSVECTOR(), sa.Computed(expression, persisted=True))
        )
        for index, columns in INDEXES[table].items():
            op.create_index(index, table, columns, postgresql_using="gin")


def upgrade() -> None:
    for name, language in CONFIGURATIONS.items():
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION public.{name} (COPY = pg_catalog.{language})")
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION public.{name} "
            f"ALTER MAPPING FOR word, hword, hword_part WITH public.unaccent, pg_catalog.{language}_stem"
        )
    op.execute(
        """
        CREATE FUNCTION msnet_document(text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
        SELECT to_tsvector('public.msnet_english'::regconfig, $1)
            || to_tsvector('public.msnet_french'::regconfig, $1)
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION msnet_query(text) RETURNS tsquery
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
        SELECT string_agg(DISTINCT '(' || reading::text || ')', ' | ')::tsquery
        FROM unnest(ARRAY[websearch_to_tsquery('public.msnet_english'::regconfig, $1),
                          websearch_to_tsquery('public.msnet_french'::regconfig, $1)]) AS reading
        WHERE numnode(reading) > 0
        $$
        """
    )
    _replace_columns({table: f"msnet_document({text})" for table, text in TEXT.items()})
    op.execute("DROP FUNCTION msnet_unaccent(text)")


def downgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION msnet_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
        """
    )
    _replace_columns(BEFORE)
    op.execute("DROP FUNCTION msnet_query(text)")
    op.execute("DROP FUNCTION msnet_document(text)")
    for name in CONFIGURATIONS:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION public.{name}")
