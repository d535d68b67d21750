"""The model registry is complete: its tables and columns are the ones the migrations build."""

from __future__ import annotations

import asyncpg

from msnet.models import metadata


async def test_the_models_describe_the_tables_the_migrations_build(owner_conn: asyncpg.Connection) -> None:
    rows = await owner_conn.fetch(
        """
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name <> 'alembic_version'
        """
    )
    built: dict[str, set[str]] = {}
    for row in rows:
        built.setdefault(row["table_name"], set()).add(row["column_name"])
    modelled = {name: {column.name for column in table.columns} for name, table in metadata.tables.items()}
    tables = {
        "models only": modelled.keys() - built.keys(),
        "migrations only": built.keys() - modelled.keys(),
    }
    assert tables == {"models only": set(), "migrations only": set()}
    differ = {
        name: {"models only": columns - built[name], "migrations only": built[name] - columns}
        for name, columns in modelled.items()
        if columns != built[name]
    }
    assert differ == {}
