"""Faceted search: the matching rows counted by facet, by organisation and in all, and the page's
keys, in one statement built once per shape and run on the driver."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from asyncpg.pgproto.pgproto import UUID as DriverUUID
from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.errors import InvalidInput
from msnet.organisations.models import Organisation
from msnet.search.driver import Driven, execute
from msnet.search.paging import cursor_key, keyset, next_cursor
from msnet.sharing import visible_to_caller
from msnet.taxonomy import service as taxonomy

#: The array columns of a facets query, by facet: the directory's and the roster's.
ARRAYS = {"theme": "themes", "service_type": "service_types", "language": "languages", "region": "regions"}


def term(field: str, kind: str, value: str) -> str:
    """One taxonomy term, normalised; an unknown one is a 422 naming ``field``."""
    try:
        return taxonomy.check(field, kind, [value])[0]  # type: ignore[arg-type]
    except InvalidInput:
        raise InvalidInput.field(field, f"'{value[:60]}' is not in the taxonomy (see /v1/taxonomy)") from None


def terms_param(name: str) -> Any:
    """The bind parameter ``name`` of a statement built once: a list of taxonomy terms."""
    return bindparam(name, type_=ARRAY(Text))


def query_param() -> Any:
    """The bind parameter ``q`` of a statement built once: the text searched for."""
    return bindparam("q", type_=String)


def text_query(q: Any) -> ColumnElement[Any]:
    """The words of ``q`` (a value or a bind parameter) as the one text search of every searchable
    record reads them: ``msnet_query`` (migration 0019), English and French stems, accents dropped,
    matched against the ``msnet_document`` of a record's text.

    It is a scalar subquery, so PostgreSQL computes it once a statement: a prepared statement's
    generic plan (asyncpg's, after five runs) would otherwise compute it again for every row it
    checks or ranks (7.3 against 4.3 ms for an expert search at 100,000 experts). A ``q`` with
    nothing to search in it (punctuation only, say) matches nothing."""
    return select(func.msnet_query(q, type_=TSQUERY)).scalar_subquery()


async def organisation_id(session: AsyncSession, slug: str | None) -> UUID | None:
    """The organisation a search is narrowed to; an unknown one is a 422 naming ``organisation``."""
    if not slug:
        return None
    org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if org_id is None:
        raise InvalidInput.field("organisation", f"no organisation '{slug[:32]}'")
    return org_id


@dataclass
class Found:
    """One search's answer: the page's keys with their rank (best first), the facets, the total."""

    page: list[tuple[UUID, float | None]]
    facets: dict[str, dict[str, int]]
    total: int
    next_cursor: str | None


def _read(
    rows: Any, arrays: Mapping[str, str]
) -> tuple[dict[str, dict[str, int]], int, list[tuple[UUID, float | None]]]:
    """The counts, the total, and the rows of the facet ``page`` (whose term is a key) as (key, rank).
    A key is parsed as the driver parses the UUIDs it reads: a ``uuid.UUID``, parsed and compared
    (when the page is sorted) in C, ten times faster than the standard library's."""
    counts: dict[str, dict[str, int]] = {k: {} for k in (*arrays, "organisation", "total", "page")}
    page = []
    for facet, term, count, rank in rows:
        if facet == "page":
            page.append((DriverUUID(term), rank))
        else:
            counts[facet][term] = count
    del counts["page"]
    return counts, counts.pop("total").get("", 0), page


#: What builds a search: given the names of the filters in use and whether the caller is anonymous,
#: the select of the matching rows (with bind parameters) and the rank to order by, or None.
Hits = Callable[[frozenset[str], bool], tuple[Select[Any], ColumnElement[Any] | None]]
#: The search statements built so far (compiled, with whether they rank), the most recently used
#: last. Bounded: the filters a caller combines choose the statement, and a training search has a
#: dozen optional ones.
_BUILT: OrderedDict[Hashable, tuple[Driven, bool]] = OrderedDict()
BUILT_AT_MOST = 512
_RECORDS: dict[tuple[Any, bool], Driven] = {}


def _find_statement(
    hits_query: Select[Any],
    rank: ColumnElement[Any] | None,
    arrays: Mapping[str, str],
    after: bool,
    arrays_repeat: bool,
) -> tuple[Select[Any], bool]:
    """The rows (facet, term, count, rank) of a search: a count of keys by facet and term, by
    organisation, in all ('total'), and the page's keys ('page', the key as term, its rank). A
    record has a term at most once (the services store taxonomy terms as sets: ``taxonomy.check``
    drops repeats), so a count of rows is the number of keys and the grouping hashes instead of
    sorting.

    With ``arrays_repeat`` (many matching rows hold the same array of a facet: an office's terms,
    the union of a few capacities'), each distinct array of a facet is counted once, then its terms
    with that count: the matching rows' terms one by one were most of the statement's work. The
    organisations are counted before their slugs are joined, likewise."""
    ranked = rank is not None
    cte = hits_query.add_columns((rank if ranked else null().cast(Float)).label("rank")).cte("hits")
    no_rank = null().cast(Float)
    if arrays_repeat:
        terms = []
        for facet, column in arrays.items():
            distinct = select(cte.c[column].label("terms"), _count()).group_by(cte.c[column]).subquery()
            terms.append(
                select(literal(facet), func.unnest(distinct.c.terms).label("term"), distinct.c.n, no_rank)
            )
        by_organisation = select(cte.c.organisation_id, _count()).group_by(cte.c.organisation_id).subquery()
        organisations = select(literal("organisation"), Organisation.slug, by_organisation.c.n, no_rank).join(
            Organisation, Organisation.id == by_organisation.c.organisation_id
        )
        total = select(literal("total"), literal(""), _count(), no_rank).select_from(cte)
        each: ColumnElement[Any] = literal(1, Integer)
    else:
        terms = [
            select(literal(facet), func.unnest(cte.c[column]).label("term"), cte.c.key, no_rank)
            for facet, column in arrays.items()
        ]
        organisations = select(literal("organisation"), Organisation.slug, cte.c.key, no_rank).join(
            Organisation, Organisation.id == cte.c.organisation_id
        )
        total = select(literal("total"), literal(""), cte.c.key, no_rank)
        each = cte.c.key
    page = keyset(
        select(literal("page"), cast(cte.c.key, Text), each, cte.c.rank),
        (bindparam("after_rank", type_=Float), bindparam("after_id", type_=Uuid)) if after else None,
        cte.c.rank if ranked else None,
        cte.c.key,
    ).limit(bindparam("page_size", type_=Integer))
    rows = union_all(*terms, organisations, total, select(page.subquery())).subquery("rows")
    count = func.sum(rows.c[2]) if arrays_repeat else func.count()
    return select(rows.c[0], rows.c[1], count, func.max(rows.c[3])).group_by(rows.c[0], rows.c[1]), ranked


def _count() -> ColumnElement[Any]:
    """``n``: the rows of a group, as an integer (their sum is one, not a decimal)."""
    return cast(func.count(), Integer).label("n")


async def find(
    session: AsyncSession,
    principal: Principal | None,
    hits: Hits,
    *,
    shape: Hashable,
    values: Mapping[str, Any],
    cursor: str | None,
    limit: int,
    arrays: Mapping[str, str] = ARRAYS,
    arrays_repeat: bool = False,
) -> Found:
    """A page of the search ``hits`` builds, with its facets and total, from one scan of the
    matching rows in one round trip: the page's keys come back beside the counts, and the caller
    loads just those records (:func:`records`).

    ``hits(names, anonymous)`` selects the rows ``principal`` may see (through the bind parameter
    ``org``, the caller's organisation, set here) that match the filters ``names`` (the keys of
    ``values``, the filters' values by the name of their bind parameter): ``key``,
    ``organisation_id`` and an array column per facet of ``arrays``; and gives the rank to order
    by when searching text, else None (by key). The statement is built once for each ``shape``
    (naming whatever else changes it), set of filters, kind of caller and first or later page, and
    run on the driver: building it costs more than the database takes to run it. Each key is on
    one row."""
    anonymous = principal is None
    values = dict(values) if principal is None else {**values, "org": principal.org_id}
    names = frozenset(values) - {"org"}
    key = (shape, names, anonymous, tuple(arrays), arrays_repeat, bool(cursor))
    built = _BUILT.get(key)
    if built is None:
        statement, ranked = _find_statement(*hits(names, anonymous), arrays, bool(cursor), arrays_repeat)
        built = _BUILT[key] = Driven(statement, session.get_bind().dialect), ranked
        if len(_BUILT) > BUILT_AT_MOST:
            _BUILT.popitem(last=False)
    else:
        _BUILT.move_to_end(key)
    driven, ranked = built
    parameters = {**values, "page_size": limit + 1}
    if cursor:
        parameters["after_rank"], parameters["after_id"] = cursor_key(cursor, ranked)
    counts, total, keys = _read(await execute(session, driven, parameters, named=False), arrays)
    keys.sort(key=lambda k: (k[1], k[0]) if ranked else (0.0, k[0]), reverse=ranked)
    return Found(page=keys[:limit], facets=counts, total=total, next_cursor=next_cursor(keys, limit, ranked))


async def records(session: AsyncSession, model: Any, found: Found, principal: Principal | None) -> list[Any]:
    """The records of ``found``'s page, in its order, loaded by primary key among those ``principal``
    may see (and, for a model that keeps tombstones, not erased). The search's own filters were
    applied by :func:`find`: repeating them would have the planner look for twenty rows through the
    search's indexes. The statement is built once a model.

    They are read-only rows of the model's columns (deferred ones left out), by the names of its
    attributes: a page is read and dropped, and filling the session's identity map with it cost
    more than the rest of reading it. A JSON column comes as its text, for the caller to decode
    straight into its own types: the driver's parsing it into dicts and lists first, then their
    conversion, cost more than the rest of the page."""
    key = (model, principal is None)
    driven = _RECORDS.get(key)
    if driven is None:
        where = [
            model.id == any_(bindparam("ids", type_=ARRAY(Uuid))),
            visible_to_caller(model, principal is None),
        ]
        if hasattr(model, "deleted_at"):
            where.append(model.deleted_at.is_(None))
        columns = [
            (cast(c.columns[0], Text) if isinstance(c.columns[0].type, JSON) else c.columns[0]).label(c.key)
            for c in inspect(model).column_attrs
            if not c.deferred
        ]
        statement = select(*columns).where(*where)
        driven = _RECORDS[key] = Driven(statement, session.get_bind().dialect)
    ids = [key for key, _ in found.page]
    parameters = {"ids": ids, "org": principal.org_id if principal else None}
    rows = {r.id: r for r in await execute(session, driven, parameters)}
    return [rows[i] for i in ids if i in rows]
