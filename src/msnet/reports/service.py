"""The reports: an organisation's own track record, the network's picture under the disclosure rule,
and the lessons of closed requests; and the refresh that keeps their figures.

The figures are read from ``report_facts`` and ``report_cells`` (migration 0023), which
``msnet_report_refresh`` recomputes for every request changed since its last run (the
``reports.refresh`` job, every MSNET_REPORTS_REFRESH_SECONDS)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import TextClause, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import decode_cursor, encode_cursor
from msnet.auth.principal import Principal
from msnet.directory.models import Office
from msnet.errors import Errors, InvalidInput, NotFound
from msnet.processes import service as processes
from msnet.processes.models import Process
from msnet.processes.schemas import ProcessRef
from msnet.reports import schemas
from msnet.reports.models import ReportCell, ReportState
from msnet.requests.models import SupportRequest
from msnet.requests.service import readable
from msnet.roster import transfer
from msnet.sharing import slugs_of, visible
from msnet.taxonomy import service as taxonomy

MAX_YEARS = 10  # the longest period a track record covers
MAX_QUARTERS = 40  # the most quarters one network report shows
NONE = "none"  # the key of requests without a value of the dimension
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")

# --- the refresh ---------------------------------------------------------------------------


async def refresh(session: AsyncSession, batch: int = 1_000_000) -> int:
    """Recompute the facts of the requests changed since the last refresh, and the network's cells of
    their quarters; the number of requests recomputed."""
    return await session.scalar(text("SELECT msnet_report_refresh(:batch)"), {"batch": batch}) or 0


# --- answers kept ----------------------------------------------------------------------------


class Answers:
    """Answers already computed in this process, by what they answer and the figures' generation
    (``report_state``, new at every refresh that changed anything, random so that no two databases
    share one): exact while that generation stands. The least recently used go first beyond
    ``max_bytes``. Callers asking for the same answer while it is computed wait for it rather than
    compute it again (after a refresh, a report's first readers arrive together)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.kept: OrderedDict[Hashable, bytes] = OrderedDict()
        self.computing: dict[Hashable, asyncio.Lock] = {}

    async def answer(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        body = self.get(key)
        if body is not None:
            return body
        async with self.computing.setdefault(key, asyncio.Lock()):
            try:
                body = self.get(key)
                if body is None:
                    body = await compute()
                    self.put(key, body)
            finally:
                self.computing.pop(key, None)  # whoever waits holds the lock; later callers find the answer
        return body

    def get(self, key: Hashable) -> bytes | None:
        body = self.kept.get(key)
        if body is not None:
            self.kept.move_to_end(key)
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes or key in self.kept:
            return
        self.kept[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            self.size -= len(self.kept.popitem(last=False)[1])


ANSWERS = Answers(64 * 1024 * 1024)


async def generation(session: AsyncSession) -> UUID:
    return await session.scalar(select(ReportState.generation))  # type: ignore[return-value]


# --- parameters ----------------------------------------------------------------------------


#: The years a report may cover (the network's quarters, the track record's days).
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _day(errors: Errors, field: str, raw: str | None) -> date | None:
    """A day of the years reports cover (near the year 9999, no period the track record's check can
    compute), or None with ``field`` named."""
    if raw is None:
        return None
    try:
        if _DAY.fullmatch(raw):
            day = date.fromisoformat(raw)
            if FIRST_YEAR <= day.year <= LAST_YEAR:
                return day
            errors.add(field, f"must be a day of the years {FIRST_YEAR} to {LAST_YEAR}")
            return None
    except ValueError:
        pass
    errors.add(field, "must be a date, YYYY-MM-DD")
    return None


def _term(errors: Errors, kind: str, raw: str | None) -> str | None:
    """A taxonomy term of ``kind`` (the parameter's name too); None if not given or unknown."""
    return errors.check(search.term, kind, kind, raw) if raw else None


def _uuid(errors: Errors, field: str, raw: str | None) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        errors.add(field, "must be a UUID")
        return None


def _choice(errors: Errors, field: str, raw: str | None, options: tuple[str, ...], default: str) -> str:
    if raw is None:
        return default
    if raw not in options:
        errors.add(field, f"must be one of: {', '.join(options)}")
    return raw


@dataclass(frozen=True)
class TrackRecordQuery:
    """A track record's parameters as sent (text, checked together by :func:`parse_track_record`)."""

    from_: str | None = None
    to: str | None = None
    group_by: str | None = None
    office_id: str | None = None
    theme: str | None = None
    service_type: str | None = None
    region: str | None = None
    country: str | None = None
    process_id: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class TrackRecordParameters:
    start: date
    end: date
    group_by: str
    office_id: UUID | None
    theme: str | None
    service_type: str | None
    region: str | None
    country: str | None
    process_id: UUID | None
    format: str | None  # json | csv; None: as the Accept header says


async def parse_track_record(
    session: AsyncSession, principal: Principal, raw: TrackRecordQuery, today: date | None = None
) -> TrackRecordParameters:
    """The parameters, checked: one 422 naming every bad one."""
    today = today or datetime.now(UTC).date()
    with Errors() as errors:
        start = _day(errors, "from", raw.from_)
        end = _day(errors, "to", raw.to)
        group_by = _choice(errors, "group_by", raw.group_by, schemas.GROUP_BY, "quarter")
        if raw.format is not None:
            _choice(errors, "format", raw.format, ("json", "csv"), "json")
        office_id = _uuid(errors, "office_id", raw.office_id)
        process_id = _uuid(errors, "process_id", raw.process_id)
        theme = _term(errors, "theme", raw.theme)
        service_type = _term(errors, "service_type", raw.service_type)
        region = _term(errors, "region", raw.region)
        country = _term(errors, "country", raw.country)
        if not errors.about("from", "to"):
            end = end or today
            start = start or date(end.year, 1, 1)
            if end < start:
                errors.add("to", "is before from")
            elif end > date(start.year + MAX_YEARS, start.month, 1):
                errors.add("to", f"a track record covers at most {MAX_YEARS} years")
        if office_id and not await session.scalar(
            select(Office.id).where(Office.id == office_id, Office.organisation_id == principal.org_id)
        ):
            errors.add("office_id", "is not an office of the caller's organisation")
        if process_id:
            process_id = await _process(session, principal, process_id, errors)
    assert start is not None
    assert end is not None
    return TrackRecordParameters(
        start, end, group_by, office_id, theme, service_type, region, country, process_id, raw.format
    )


async def _process(
    session: AsyncSession, principal: Principal, process_id: UUID, errors: Errors
) -> UUID | None:
    """The process to filter on (what it was merged into): one the caller may see, or one its own
    figures refer to (a process private to the organisation that asked it)."""
    try:
        return (await processes.resolve(session, principal, process_id)).id
    except NotFound:
        if await session.scalar(
            text("SELECT 1 FROM report_facts WHERE process_id = :p LIMIT 1"), {"p": process_id}
        ):
            return process_id
    errors.add("process_id", f"no process {process_id}")
    return None


# --- the track record ----------------------------------------------------------------------

#: Each grouping's key, and the array it unnests (if any). Fixed texts: no input reaches the SQL.
_KEYS: dict[str, tuple[str, str | None]] = {
    "month": ("to_char(f.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM')", None),
    "quarter": ("to_char(f.submitted_at AT TIME ZONE 'UTC', 'YYYY-\"Q\"Q')", None),
    "theme": ("k", "themes"),
    "service_type": ("k", "service_types"),
    "region": ("k", "regions"),
    "country": ("k", "countries"),
    "process": ("f.process_id::text", None),
    "outcome": ("f.outcome", None),
}
_TRAINING_KEYS: dict[str, tuple[str, str | None]] = {
    "month": ("to_char(f.starts_at AT TIME ZONE 'UTC', 'YYYY-MM')", None),
    "quarter": ("to_char(f.starts_at AT TIME ZONE 'UTC', 'YYYY-\"Q\"Q')", None),
    "theme": ("k", "themes"),
    "region": ("k", "regions"),
    "country": ("COALESCE(f.country, '')", None),
}
_COUNTED = "(f.side = 'asked' OR f.accepted > 0)"  # an addressee's outcome: of what it was accepted on
_FIGURES = f"""
    f.side,
    count(*) AS requests,
    sum(f.offers) AS offers,
    sum(f.accepted) AS offers_accepted,
    sum(f.declines) AS declines,
    count(*) FILTER (WHERE f.outcome = 'delivered' AND {_COUNTED}) AS delivered,
    count(*) FILTER (WHERE f.outcome = 'not_delivered' AND {_COUNTED}) AS not_delivered,
    sum(f.experts) AS experts,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY f.first_response) AS first_response_median,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY f.first_response) AS first_response_p90,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY f.acceptance) AS acceptance_median,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY f.acceptance) AS acceptance_p90,
    array_agg(DISTINCT f.reason ORDER BY f.reason)
        FILTER (WHERE f.outcome = 'not_delivered' AND {_COUNTED} AND f.reason <> '') AS reasons
"""


def _statement(*fragments: str) -> TextClause:
    """A statement from fixed fragments of this module (keys, conditions, figures): every value in it
    is a bound parameter."""
    return text(" ".join(fragments))


def _unnest(array: str | None) -> str:
    if array is None:
        return ""
    return f", unnest(CASE WHEN cardinality(f.{array}) = 0 THEN ARRAY[''] ELSE f.{array} END) AS k"


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _figures(row: Any | None) -> schemas.Figures:
    if row is None:
        return schemas.Figures(
            requests=0,
            offers=0,
            offers_accepted=0,
            declines=0,
            delivered=0,
            not_delivered=0,
            experts=0,
            first_response_hours=schemas.Spread(median=None, p90=None),
            acceptance_hours=schemas.Spread(median=None, p90=None),
            not_delivered_reasons=[],
        )
    return schemas.Figures(
        requests=row.requests,
        offers=int(row.offers),
        offers_accepted=int(row.offers_accepted),
        declines=int(row.declines),
        delivered=row.delivered,
        not_delivered=row.not_delivered,
        experts=int(row.experts),
        first_response_hours=schemas.Spread(
            median=_hours(row.first_response_median), p90=_hours(row.first_response_p90)
        ),
        acceptance_hours=schemas.Spread(median=_hours(row.acceptance_median), p90=_hours(row.acceptance_p90)),
        not_delivered_reasons=list(row.reasons or []),
    )


def _periods(group_by: str, start: date, end: date) -> list[str]:
    """Every month or quarter from ``start`` to ``end``, as the keys name them."""
    keys = []
    year, month = start.year, start.month if group_by == "month" else 3 * ((start.month - 1) // 3) + 1
    while (year, month) <= (end.year, end.month):
        keys.append(f"{year}-{month:02d}" if group_by == "month" else f"{year}-Q{(month - 1) // 3 + 1}")
        step = 1 if group_by == "month" else 3
        year, month = (year + 1, month + step - 12) if month + step > 12 else (year, month + step)
    return keys


async def track_record(
    session: AsyncSession, principal: Principal, p: TrackRecordParameters
) -> schemas.TrackRecord:
    """The caller's organisation's figures for the requests submitted in the period: asked, received,
    and the trainings it shares (row-level security keeps the facts to its own, too)."""
    values: dict[str, Any] = {
        "org": principal.org_id,
        "start": datetime(p.start.year, p.start.month, p.start.day, tzinfo=UTC),
        "end": datetime(p.end.year, p.end.month, p.end.day, tzinfo=UTC) + timedelta(days=1),
    }
    where = ["f.organisation_id = :org", "f.submitted_at >= :start", "f.submitted_at < :end"]
    for name, column in (("theme", "themes"), ("service_type", "service_types"), ("region", "regions")):
        if getattr(p, name):
            values[name] = getattr(p, name)
            where.append(f"f.{column} @> ARRAY[CAST(:{name} AS text)]")
    if p.country:
        values["country"] = p.country
        where.append("f.countries @> ARRAY[CAST(:country AS text)]")
    if p.office_id:
        values["office"] = p.office_id
        where.append("f.office_ids @> ARRAY[CAST(:office AS uuid)]")
    if p.process_id:
        values["process"] = p.process_id
        where.append("f.process_id = :process")
    key, array = _KEYS[p.group_by]
    conditions = " AND ".join(where)
    grouped = await session.execute(
        _statement(
            "SELECT",
            key,
            "AS key,",
            _FIGURES,
            "FROM report_facts f",
            _unnest(array),
            "WHERE",
            conditions,
            "GROUP BY 1, f.side",
        ),
        values,
    )
    totals = await session.execute(
        _statement("SELECT", _FIGURES, "FROM report_facts f WHERE", conditions, "GROUP BY f.side"), values
    )
    by_key: dict[str, dict[str, Any]] = {}
    for row in grouped:
        by_key.setdefault(row.key or NONE, {})[row.side] = row
    total_sides = {row.side: row for row in totals}
    trainings, trainings_total = await _trainings(session, principal, p, values)
    keys = list(by_key) + [k for k in (trainings or {}) if k not in by_key]
    if p.group_by in ("month", "quarter"):
        keys = _periods(p.group_by, p.start, p.end)
    else:
        keys.sort(
            key=lambda k: (
                -sum(r.requests for r in by_key.get(k, {}).values()),
                -(trainings or {}).get(k, 0),
                k,
            )
        )
    labels = await _process_names(session, principal, keys) if p.group_by == "process" else {}
    rows = [
        schemas.TrackRecordRow(
            key=k,
            label=labels.get(k),
            asked=_figures(by_key.get(k, {}).get("asked")),
            received=_figures(by_key.get(k, {}).get("received")),
            trainings=None if trainings is None else trainings.get(k, 0),
        )
        for k in keys
    ]
    slug = (await slugs_of(session, [principal.org_id]))[principal.org_id]
    return schemas.TrackRecord(
        organisation=slug,
        from_=p.start,
        to=p.end,
        group_by=p.group_by,  # type: ignore[arg-type]
        filters=schemas.TrackRecordFilters(
            office_id=p.office_id,
            theme=p.theme,
            service_type=p.service_type,
            region=p.region,
            country=p.country,
            process_id=p.process_id,
        ),
        rows=rows,
        total=schemas.TrackRecordRow(
            key="total",
            label=None,
            asked=_figures(total_sides.get("asked")),
            received=_figures(total_sides.get("received")),
            trainings=trainings_total,
        ),
    )


async def _trainings(
    session: AsyncSession, principal: Principal, p: TrackRecordParameters, values: dict[str, Any]
) -> tuple[dict[str, int] | None, int | None]:
    """The trainings the organisation shares starting in the period, by group and in all; None where
    trainings have no such dimension or filter (service type, process, outcome; an office)."""
    if p.group_by not in _TRAINING_KEYS or p.office_id or p.service_type or p.process_id:
        return None, None
    where = ["f.organisation_id = :org", "f.starts_at >= :start", "f.starts_at < :end"]
    if p.theme:
        where.append("f.themes @> ARRAY[CAST(:theme AS text)]")
    if p.region:
        where.append("f.regions @> ARRAY[CAST(:region AS text)]")
    if p.country:
        where.append("f.country = :country")
    key, array = _TRAINING_KEYS[p.group_by]
    conditions = " AND ".join(where)
    names = {k: v for k, v in values.items() if k in ("org", "start", "end", "theme", "region", "country")}
    grouped = await session.execute(
        _statement(
            "SELECT",
            key,
            "AS key, count(*) AS n FROM trainings f",
            _unnest(array),
            "WHERE",
            conditions,
            "GROUP BY 1",
        ),
        names,
    )
    total = await session.scalar(_statement("SELECT count(*) FROM trainings f WHERE", conditions), names)
    return {row.key or NONE: row.n for row in grouped}, total or 0


async def _process_names(session: AsyncSession, principal: Principal, keys: Iterable[str]) -> dict[str, str]:
    ids = [UUID(k) for k in keys if k != NONE]
    found = await session.execute(
        select(Process.id, Process.name).where(Process.id.in_(ids), visible(Process, principal))
    )
    return {str(i): name for i, name in found}


#: The CSV's columns for one side, in order: the figure and how it is read from a ``Figures``.
_SIDE_COLUMNS = (
    "requests",
    "offers",
    "offers_accepted",
    "declines",
    "delivered",
    "not_delivered",
    "experts",
    "first_response_hours_median",
    "first_response_hours_p90",
    "acceptance_hours_median",
    "acceptance_hours_p90",
    "not_delivered_reasons",
)
CSV_COLUMNS = (
    "key",
    "label",
    *(f"{side}_{c}" for side in ("asked", "received") for c in _SIDE_COLUMNS),
    "trainings",
)


def _side_values(figures: schemas.Figures) -> list[Any]:
    return [
        figures.requests,
        figures.offers,
        figures.offers_accepted,
        figures.declines,
        figures.delivered,
        figures.not_delivered,
        figures.experts,
        figures.first_response_hours.median,
        figures.first_response_hours.p90,
        figures.acceptance_hours.median,
        figures.acceptance_hours.p90,
        " | ".join(figures.not_delivered_reasons),
    ]


def track_record_csv(record: schemas.TrackRecord) -> str:
    """The rows of the track record, then its total, as CSV (RFC 4180): an empty field is null, the
    reasons are joined by ' | ', a text a spreadsheet would read as a formula is quoted (a process's
    name is another organisation's words)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*record.rows, record.total]:
        values = [row.key, row.label, *_side_values(row.asked), *_side_values(row.received), row.trainings]
        writer.writerow(
            ["" if v is None else transfer.neutralised(v) if isinstance(v, str) else v for v in values]
        )
    return out.getvalue()


async def track_record_answer(
    session: AsyncSession, principal: Principal, p: TrackRecordParameters, as_csv: bool
) -> bytes:
    """The track record as the body of an answer (JSON, or CSV), kept for the figures' generation."""

    async def compute() -> bytes:
        record = await track_record(session, principal, p)
        return track_record_csv(record).encode() if as_csv else msgspec.json.encode(record)

    return await ANSWERS.answer(
        ("track-record", principal.org_id, p, as_csv, await generation(session)), compute
    )


# --- the network's picture -----------------------------------------------------------------


def _quarter_of(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _quarter_name(quarter: date) -> str:
    return f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"


def _add_quarters(quarter: date, n: int) -> date:
    months = quarter.year * 12 + quarter.month - 1 + 3 * n
    return date(months // 12, months % 12 + 1, 1)


def _quarter(errors: Errors, field: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    match = _QUARTER.fullmatch(raw)
    if match is None or not 1900 <= int(match.group(1)) <= 9998:
        errors.add(field, "must be a quarter, YYYY-Qn (e.g. 2027-Q1)")
        return None
    return date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1)


@dataclass(frozen=True)
class NetworkParameters:
    dimension: str
    first: date
    last: date


def parse_network(
    dimension: str | None, from_: str | None, to: str | None, today: date | None = None
) -> NetworkParameters:
    """The parameters, checked: one 422 naming every bad one. Only whole quarters that have ended."""
    last_ended = _add_quarters(_quarter_of(today or datetime.now(UTC).date()), -1)
    with Errors() as errors:
        chosen = _choice(errors, "dimension", dimension, schemas.DIMENSIONS, "theme")
        first = _quarter(errors, "from", from_)
        last = _quarter(errors, "to", to)
        if last and last > last_ended:
            errors.add("to", f"must be a quarter that has ended ({_quarter_name(last_ended)} or before)")
        if first and first > last_ended:
            errors.add("from", f"must be a quarter that has ended ({_quarter_name(last_ended)} or before)")
        if not errors.about("from", "to"):
            last = last or last_ended
            first = first or _add_quarters(last, -3)
            if last < first:
                errors.add("to", "is before from")
            elif _add_quarters(first, MAX_QUARTERS) <= last:
                errors.add("to", f"a network report covers at most {MAX_QUARTERS} quarters")
    assert first is not None
    assert last is not None
    return NetworkParameters(chosen, first, last)


def _keys(dimension: str) -> list[str]:
    """Every value the dimension may take, whether or not a request has it: which cells are listed
    says nothing of what was asked."""
    ids = {
        "theme": taxonomy.theme_ids,
        "region": taxonomy.region_ids,
        "service_type": taxonomy.service_type_ids,
    }[dimension]()
    return [*sorted(ids), NONE]


def _shown(cell: ReportCell | None, min_count: int) -> bool:
    """The disclosure rule: a cell is shown when at least ``min_count`` of its requests were asked by
    organisations other than the one that asked most in it. Whoever reads it, and whatever it knows
    of its own requests, learns of no fewer than ``min_count`` requests of others."""
    return cell is not None and cell.requests - cell.largest >= min_count


def _cell(key: str, cell: ReportCell | None, shown: bool) -> schemas.NetworkCell:
    if not shown or cell is None:
        return schemas.NetworkCell(
            key=key,
            suppressed=True,
            requests=None,
            offers=None,
            accepted=None,
            delivered=None,
            not_delivered=None,
            declines=None,
            experts=None,
            first_response_hours=None,
            acceptance_hours=None,
        )
    return schemas.NetworkCell(
        key=key,
        suppressed=False,
        requests=cell.requests,
        offers=cell.offers,
        accepted=cell.accepted,
        delivered=cell.delivered,
        not_delivered=cell.not_delivered,
        declines=cell.declines,
        experts=cell.experts,
        first_response_hours=schemas.Spread(
            median=_hours(cell.first_response_median), p90=_hours(cell.first_response_p90)
        ),
        acceptance_hours=schemas.Spread(
            median=_hours(cell.acceptance_median), p90=_hours(cell.acceptance_p90)
        ),
    )


def _suppressed(cells: dict[str, ReportCell], keys: list[str], total_shown: bool, min_count: int) -> set[str]:
    """The keys of a quarter's cells kept back: those under the rule, and, when the total is shown
    and exactly one is, the shown cell with the fewest requests too, so that no cell is the total
    less the others."""
    hidden = {k for k in keys if not _shown(cells.get(k), min_count)}
    if total_shown and len(hidden) == 1:
        shown = [k for k in keys if k not in hidden]
        if shown:
            hidden.add(min(shown, key=lambda k: (cells[k].requests, k)))
    return hidden


async def network_report(
    session: AsyncSession, p: NetworkParameters, min_count: int
) -> schemas.NetworkReport:
    """Every organisation's requests by quarter and ``p.dimension``, under the disclosure rule: no
    organisation named, nothing narrower than a quarter and a value of a fixed dimension."""
    rows = await session.scalars(
        select(ReportCell).where(
            ReportCell.quarter >= p.first,
            ReportCell.quarter <= p.last,
            ReportCell.dimension.in_(["total", p.dimension]),
        )
    )
    by_quarter: dict[date, dict[str, dict[str, ReportCell]]] = {}
    for cell in rows:
        by_quarter.setdefault(cell.quarter, {}).setdefault(cell.dimension, {})[cell.key or NONE] = cell
    keys = _keys(p.dimension)
    quarters = []
    quarter = p.first
    while quarter <= p.last:
        found = by_quarter.get(quarter, {})
        total = found.get("total", {}).get(NONE)
        total_shown = _shown(total, min_count)
        cells = found.get(p.dimension, {})
        hidden = _suppressed(cells, keys, total_shown, min_count)
        quarters.append(
            schemas.NetworkQuarter(
                quarter=_quarter_name(quarter),
                total=_cell("total", total, total_shown),
                cells=[_cell(k, cells.get(k), k not in hidden) for k in keys],
            )
        )
        quarter = _add_quarters(quarter, 1)
    return schemas.NetworkReport(
        dimension=p.dimension,  # type: ignore[arg-type]
        from_quarter=_quarter_name(p.first),
        to_quarter=_quarter_name(p.last),
        min_count=min_count,
        quarters=quarters,
    )


async def network_answer(session: AsyncSession, p: NetworkParameters, min_count: int) -> bytes:
    """The network report as a JSON body, kept for the figures' generation."""

    async def compute() -> bytes:
        return msgspec.json.encode(await network_report(session, p, min_count))

    return await ANSWERS.answer(("network", p, min_count, await generation(session)), compute)


# --- lessons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonFilter:
    q: str | None = None
    theme: str | None = None
    region: str | None = None
    process_id: UUID | None = None


def _cursor_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput.field("cursor", "is not a cursor this API gave out") from None


async def lessons(
    session: AsyncSession, principal: Principal, filters: LessonFilter, *, limit: int, cursor: str | None
) -> schemas.LessonPage:
    """The after-action notes of the closed requests the caller may read (its own, those addressed
    to it, those shared with it), most recently closed first."""
    note = SupportRequest.outcome["note"].astext
    conditions = [readable(principal), SupportRequest.state == "completed", func.coalesce(note, "") != ""]
    with Errors() as errors:
        if filters.theme:
            conditions.append(SupportRequest.themes.contains([_term(errors, "theme", filters.theme)]))
        if filters.region:
            conditions.append(Process.regions.contains([_term(errors, "region", filters.region)]))
        if filters.process_id:
            try:
                process = await processes.resolve(session, principal, filters.process_id)
            except NotFound:
                errors.add("process_id", f"no process {filters.process_id}")
            else:
                merged = (await processes.aliases(session, [process.id]))[process.id]
                conditions.append(SupportRequest.process_id.in_([process.id, *merged]))
        after = errors.check(decode_cursor, cursor, datetime, str) if cursor else None
    if filters.q:
        document = func.msnet_document(SupportRequest.title + " " + note + " " + SupportRequest.description)
        conditions.append(document.op("@@")(search.text_query(filters.q)))
    joined = select(SupportRequest, Process).outerjoin(
        Process, (Process.id == SupportRequest.process_id) & visible(Process, principal)
    )
    total = await session.scalar(select(func.count()).select_from(joined.where(*conditions).subquery()))
    query = joined.where(*conditions)
    if after:
        query = query.where(
            tuple_(SupportRequest.closed_at, SupportRequest.id) < tuple_(after[0], _cursor_id(after[1]))
        )
    found = list(
        await session.execute(
            query.order_by(SupportRequest.closed_at.desc(), SupportRequest.id.desc()).limit(limit + 1)
        )
    )
    page = found[:limit]
    slugs = await slugs_of(session, list({r.organisation_id for r, _ in page}))
    items = [
        schemas.Lesson(
            request_id=r.id,
            title=r.title,
            organisation=slugs[r.organisation_id],
            process=ProcessRef(id=r.process_id, name=p.name if p else None),
            themes=list(r.themes),
            service_types=list(r.service_types),
            regions=list(p.regions) if p else [],
            delivered=bool(r.outcome["delivered"]),
            modality=r.outcome.get("modality"),
            reason=r.outcome.get("reason", ""),
            lesson=r.outcome["note"],
            closed_at=r.closed_at,
        )
        for r, p in page
    ]
    last = page[-1][0] if page else None
    return schemas.LessonPage(
        items=items,
        next_cursor=encode_cursor(last.closed_at.isoformat(), str(last.id))
        if len(found) > limit and last
        else None,
        total=total or 0,
    )
