"""Keyset pages: on (rank, id) when searching text, else on id; cursors as this API gives them out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, literal, tuple_

from msnet.api import decode_cursor, encode_cursor
from msnet.errors import InvalidInput


def cursor_key(cursor: str, ranked: bool) -> tuple[float | None, UUID]:
    """The (rank, id) a cursor this API gave out points after; a 422 naming ``cursor`` otherwise."""
    try:
        if ranked:
            after_rank, after_id = decode_cursor(cursor, float, str)
            return float(after_rank), UUID(str(after_id))
        (after_id,) = decode_cursor(cursor, str)
        return None, UUID(str(after_id))
    except (TypeError, ValueError):
        raise InvalidInput.field("cursor", "is not a cursor this API gave out") from None


def keyset(
    query: Select[Any],
    after: tuple[Any, Any] | None,
    rank: ColumnElement[Any] | None,
    id_column: Any,
    *,
    newest_first: bool = False,
) -> Select[Any]:
    if after is not None:
        if rank is not None:
            query = query.where(tuple_(rank, id_column) < tuple_(*after))
        else:
            query = query.where(id_column < after[1] if newest_first else id_column > after[1])
    if rank is not None:
        return query.order_by(rank.desc(), id_column.desc())
    return query.order_by(id_column.desc() if newest_first else id_column)


def page_after(
    query: Select[Any],
    cursor: str | None,
    rank: ColumnElement[Any] | None,
    id_column: Any,
    *,
    newest_first: bool = False,
) -> Select[Any]:
    """Keyset pagination on (rank, id) descending when searching text, else on id (time-ordered
    UUIDs: oldest first, or ``newest_first``)."""
    after = None
    if cursor:
        after_rank, after_id = cursor_key(cursor, rank is not None)
        after = (literal(after_rank), literal(after_id))
    return keyset(query, after, rank, id_column, newest_first=newest_first)


def next_cursor(keys: list[tuple[UUID, float | None]], limit: int, ranked: bool) -> str | None:
    """The cursor after the last key shown, if there are more; ``keys`` are (id, rank) pairs."""
    if len(keys) <= limit:
        return None
    key, rank = keys[limit - 1]
    return encode_cursor(float(rank or 0.0), str(key)) if ranked else encode_cursor(str(key))
