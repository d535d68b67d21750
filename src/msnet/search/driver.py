"""Statements built once, compiled once and run on the driver (asyncpg), for the searches."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy import Float, Numeric
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db.engine import driver


async def execute(
    session: AsyncSession, driven: Driven, parameters: Mapping[str, Any], *, named: bool = True
) -> list[Any]:
    """The rows of a statement built once (:class:`Driven`), run on the session's connection: named
    tuples, or with ``named=False`` the driver's own records (read by position, or unpacked; a
    search's hundred rows of counts are not worth naming). What the session holds unwritten is
    flushed first, as the session would before a query of its own, and only then: a flush of
    nothing cost a switch to SQLAlchemy's greenlet all the same."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await driven.rows(await driver(session), parameters, named=named)


class Driven:
    """A statement built once, compiled once, and run on the driver (asyncpg): SQLAlchemy's way to
    execution (its cache look-up, parameters and result rows processed in Python) cost more than
    the database took to run it (0.27 of 0.51 ms to read a page of twenty experts).

    The session's transaction has begun already (its first statement sets the organisation,
    ``msnet.db.engine``). Parameters are converted as SQLAlchemy would; rows are what the driver
    returns, as named tuples by the statement's column keys, so a statement whose columns SQLAlchemy
    converts on reading (ranges, enums, decimals…) is refused, as is one with parameters rendered
    at execution (an expanding ``IN``). Errors are the driver's own, not SQLAlchemy's (a 500 either
    way); a connection found lost is invalidated when the session rolls back. SQLAlchemy's cursor
    events do not see these statements."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError("a statement run on the driver cannot hold parameters rendered at execution")
        if converted := [c.key for c in statement.selected_columns if _converted_on_reading(c.type, dialect)]:
            raise TypeError(
                f"a statement run on the driver cannot read columns SQLAlchemy converts: {converted}"
            )
        self.sql = compiled.string
        self.names = compiled.positiontup or []
        self.fixed = {name: bind.value for bind, name in compiled.bind_names.items() if not bind.required}
        self.processors = {
            name: processor
            for bind, name in compiled.bind_names.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }
        self.row = namedtuple("Row", [c.key for c in statement.selected_columns], rename=True)  # type: ignore[misc]

    async def rows(
        self, connection: asyncpg.Connection, parameters: Mapping[str, Any], *, named: bool = True
    ) -> list[Any]:
        values = {**self.fixed, **parameters}
        arguments = [
            self.processors[name](values[name]) if name in self.processors else values[name]
            for name in self.names
        ]
        records = await connection.fetch(self.sql, *arguments)
        return [self.row(*r) for r in records] if named else records


def _converted_on_reading(type_: Any, dialect: Any) -> bool:
    """Whether SQLAlchemy changes what the driver returns for a column of ``type_`` (an array's own
    processing copies the list; a number is converted only when asked for as a decimal)."""
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, ARRAY):
        impl = impl.item_type.dialect_impl(dialect)
    if isinstance(impl, (Float, Numeric)):
        return bool(impl.asdecimal)
    return impl.result_processor(dialect, None) is not None
