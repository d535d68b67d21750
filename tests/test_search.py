"""What every search shares: statements built once and run on the driver (``msnet.search``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Integer, Numeric, Text, Uuid, any_, bindparam, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, DATERANGE, Range

from msnet.db.engine import make_engine
from msnet.roster.models import Expert
from msnet.search import driver
from msnet.search.faceted import text_query
from msnet.settings import Settings


async def test_a_driven_statement_answers_as_sqlalchemy_does(settings: Settings) -> None:
    """Literals, repeated parameters and parameters SQLAlchemy converts for the driver (a range)."""
    ids = bindparam("ids", type_=ARRAY(Uuid))
    period = bindparam("period", type_=DATERANGE)
    statement = select(
        literal("page").label("facet"),
        func.cardinality(ids).label("count"),
        (bindparam("first", type_=Uuid) == any_(ids)).label("listed"),
        func.lower(period).label("start"),
        func.upper(period).label("end"),
        cast(bindparam("limit", type_=Integer) + 1, Text).label("limit"),
    )
    first = uuid4()
    parameters = {
        "ids": [first, uuid4()],
        "first": first,
        "period": Range(date(2027, 1, 1), date(2027, 6, 30), bounds="[]"),
        "limit": 20,
    }
    engine = make_engine(settings.database_url)  # type: ignore[arg-type]
    try:
        async with engine.connect() as conn:
            expected = (await conn.execute(statement, parameters)).all()
            driven = driver.Driven(statement, engine.dialect)
            rows = await driven.rows((await conn.get_raw_connection()).driver_connection, parameters)  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    assert rows[0].facet == "page"
    # a date range's canonical form excludes its end
    assert (rows[0].count, rows[0].listed, rows[0].start, rows[0].end) == (
        2,
        True,
        date(2027, 1, 1),
        date(2027, 7, 1),
    )
    assert rows[0].limit == "21"


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        pytest.param(
            select(Expert.id).where(Expert.sharing.in_(("network", "public"))),
            "rendered at execution",
            id="in",
        ),
        pytest.param(
            select(Expert.id).where(Expert.name == bindparam("name", "x", literal_execute=True)),
            "rendered at execution",
            id="literal-execute",
        ),
        pytest.param(select(Expert.id, Expert.available), "converts: ['available']", id="range-column"),
        pytest.param(
            select(cast(Expert.version, Numeric).label("n")), "converts: ['n']", id="decimal-column"
        ),
    ],
)
def test_what_sqlalchemy_must_render_or_convert_is_not_driven(
    settings: Settings, statement: Any, why: str
) -> None:
    dialect = make_engine(settings.database_url).dialect  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(why)):
        driver.Driven(statement, dialect)
    arrays_uuids_and_json = select(Expert.id, Expert.themes, Expert.expertise, Expert.created_at)
    assert driver.Driven(
        arrays_uuids_and_json.where(Expert.id == bindparam("id", type_=Uuid)), dialect
    ).names == ["id"]


async def test_a_text_query_is_each_distinct_reading_of_english_and_french_once(settings: Settings) -> None:
    engine = make_engine(settings.database_url)  # type: ignore[arg-type]
    try:
        async with engine.connect() as conn:
            for q, readings in (
                ("médiation", 1),
                ("mediator", 2),
                ("constitution making", 2),
                ("Négociations", 1),
            ):
                joined = await conn.scalar(select(cast(text_query(literal(q)), Text)))
                each = {
                    await conn.scalar(text(f"SELECT websearch_to_tsquery('{config}', :q)::text"), {"q": q})
                    for config in ("msnet_english", "msnet_french")
                }
                assert sorted(joined.split(" | ")) == sorted(each), q
                assert len(each) == readings, each
            assert await conn.scalar(select(text_query(literal("!!! -")))) is None
    finally:
        await engine.dispose()
