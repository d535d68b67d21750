"""The reports as pages: the organisation's own track record (``/reports``, its CSV at
``/reports/export.csv``), the network's picture (``/reports/network``), an office's quarter for
decision-makers (``/reports/quarter``, printable, and ``/reports/quarter.pdf``) and the lessons
library (``/lessons``), from which an office publishes a lesson to the network as a publication.

Every page calls the reports' services as the signed-in person (what the API would answer a client
of their organisation), draws each report's charts on the server (:mod:`msnet.web.charts`) and shows
the same numbers in a table beside each chart."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.directory.models import Office
from msnet.errors import InvalidInput, NotFound
from msnet.organisations.models import Organisation
from msnet.reports import schemas, service
from msnet.requests.models import SupportRequest
from msnet.requests.service import readable
from msnet.roster import transfer
from msnet.training import schemas as training_schemas
from msnet.training import service as training
from msnet.training.models import Publication
from msnet.web import i18n, pdf
from msnet.web.charts import Chart
from msnet.web.i18n import N_
from msnet.web.listing import Query, label, options
from msnet.web.pages import needs, page
from msnet.web.pdf import Engagement, Quarter

#: The filters of a track record, as the URL names them, and the longest value each takes.
FILTERS = {
    "from": 10,
    "to": 10,
    "group_by": 12,
    "side": 8,
    "office_id": 36,
    "theme": 60,
    "service_type": 60,
    "region": 60,
    "country": 3,
    "process_id": 36,
}
SIDES = ("asked", "received")
GROUP_LABELS = {
    "month": N_("Month"),
    "quarter": N_("Quarter"),
    "theme": N_("Theme"),
    "service_type": N_("Service type"),
    "region": N_("Region"),
    "country": N_("Country"),
    "process": N_("Process"),
    "outcome": N_("Outcome"),
}
SIDE_LABELS = {"asked": N_("As requester"), "received": N_("As provider")}
OUTCOME_LABELS = {
    "delivered": N_("Delivered"),
    "not_delivered": N_("Not delivered"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "open": N_("Still open"),
}
DIMENSION_LABELS = {"theme": N_("Theme"), "region": N_("Region"), "service_type": N_("Service type")}
FILTER_NAMES = {
    "from": N_("From"),
    "to": N_("To"),
    "group_by": N_("Group by"),
    "side": N_("Figures"),
    "office_id": N_("Office"),
    "theme": N_("Theme"),
    "service_type": N_("Service type"),
    "region": N_("Region"),
    "country": N_("Country"),
    "process_id": N_("Process"),
    "dimension": N_("Beside the quarter"),
    "quarter": N_("Quarter"),
    "q": N_("Words"),
    "cursor": N_("Page"),
}
#: The track record's table (and CSV) columns after the group: a heading, and how a figure is read.
COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Requests"), "requests"),
    (N_("Offers"), "offers"),
    (N_("Offers accepted"), "offers_accepted"),
    (N_("Declines"), "declines"),
    (N_("Delivered"), "delivered"),
    (N_("Not delivered"), "not_delivered"),
    (N_("Experts deployed"), "experts"),
    (N_("First response, median (hours)"), "first_response_median"),
    (N_("First response, 90th percentile (hours)"), "first_response_p90"),
    (N_("Acceptance, median (hours)"), "acceptance_median"),
    (N_("Acceptance, 90th percentile (hours)"), "acceptance_p90"),
    (N_("Trainings given"), "trainings"),
    (N_("Reasons given for not delivering"), "reasons"),
)
LESSONS_PAGE = 20
#: The years a quarter's report may name: others are no quarter of the network's work (and near the
#: year 9999, no date the track record's period check can compute).
FIRST_YEAR, LAST_YEAR = 1900, 2999
#: The most delivered engagements a quarter's report offers to choose from.
ENGAGEMENTS = 50


def _value(row: schemas.TrackRecordRow, side: str, name: str) -> float | str | None:
    figures: schemas.Figures = getattr(row, side)
    if name == "trainings":
        return row.trainings
    if name == "reasons":
        return " | ".join(figures.not_delivered_reasons)
    if name.startswith(("first_response_", "acceptance_")):
        spread, _, which = name.rpartition("_")
        return getattr(getattr(figures, f"{spread}_hours"), which)
    return getattr(figures, name)


def group_name(group_by: str, row: schemas.TrackRecordRow) -> str:
    """A group's name in the reader's language."""
    key = row.key
    if key == "total":
        return i18n.gettext("Total")
    if key == service.NONE:
        return i18n.gettext("None given")
    if group_by in ("theme", "service_type", "region"):
        return label(group_by, key)
    if group_by == "country":
        return i18n.country_name(key)
    if group_by == "outcome":
        return i18n.translate(OUTCOME_LABELS[key]) if key in OUTCOME_LABELS else key
    if group_by == "process":
        return row.label or i18n.gettext("A process you may not see")
    return key


def shown(value: float | str | None) -> str:
    """A figure as a page shows it."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return i18n.format_number(value)


@dataclass
class Table:
    """What a track record's page shows and its CSV holds: the headings, then a row a group and the
    total, each a name and its figures."""

    headings: list[str]
    rows: list[tuple[str, list[float | str | None]]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.headings)
        for name, values in self.rows:
            writer.writerow(
                transfer.neutralised(v) if isinstance(v, str) else "" if v is None else v
                for v in [name, *values]
            )
        return out.getvalue()


def table(record: schemas.TrackRecord, side: str) -> Table:
    headings = [i18n.translate(GROUP_LABELS[record.group_by])] + [i18n.translate(h) for h, _ in COLUMNS]
    rows = [
        (group_name(record.group_by, row), [_value(row, side, name) for _, name in COLUMNS])
        for row in [*record.rows, record.total]
    ]
    return Table(headings, rows)


def track_record_charts(record: schemas.TrackRecord, side: str) -> list[Chart]:
    groups = [group_name(record.group_by, row) for row in record.rows]
    return [
        Chart(
            i18n.gettext(
                "Requests by %(group)s", group=i18n.translate(GROUP_LABELS[record.group_by]).lower()
            ),
            groups,
            [
                (i18n.gettext("Asked by you"), [float(r.asked.requests) for r in record.rows]),
                (i18n.gettext("Addressed to you"), [float(r.received.requests) for r in record.rows]),
            ],
        ),
        Chart(
            i18n.gettext("How they ended (%(side)s)", side=i18n.translate(SIDE_LABELS[side]).lower()),
            groups,
            [
                (i18n.gettext("Delivered"), [float(getattr(r, side).delivered) for r in record.rows]),
                (i18n.gettext("Not delivered"), [float(getattr(r, side).not_delivered) for r in record.rows]),
            ],
        ),
    ]


def parse(params: Mapping[str, str]) -> Query:
    return Query.of(
        "/reports",
        params,
        FILTERS,
        choices={"group_by": schemas.GROUP_BY, "side": SIDES},
        dates=("from", "to"),
    )


async def track_record(db: AsyncSession, principal: Principal, query: Query) -> schemas.TrackRecord | None:
    """The track record the page's filters ask for (None, and the mistakes in ``query``, if they
    are not right)."""
    if query.errors:
        return None
    values = query.values
    raw = service.TrackRecordQuery(
        from_=values.get("from"),
        to=values.get("to"),
        group_by=values.get("group_by"),
        office_id=values.get("office_id"),
        theme=values.get("theme"),
        service_type=values.get("service_type"),
        region=values.get("region"),
        country=values.get("country"),
        process_id=values.get("process_id"),
    )
    try:
        parameters = await service.parse_track_record(db, principal, raw)
    except InvalidInput as exc:
        query.errors_from(exc)
        return None
    body = await service.track_record_answer(db, principal, parameters, False)
    return msgspec.json.decode(body, type=schemas.TrackRecord)


async def offices(db: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    """The organisation's offices, (id, name), by name."""
    found = await db.execute(
        select(Office.id, Office.name).where(Office.organisation_id == principal.org_id).order_by(Office.name)
    )
    return [(str(i), name) for i, name in found]


# --- the network ---------------------------------------------------------------------------


def network_views(report: schemas.NetworkReport) -> dict[str, Any]:
    """The network's charts, and the tables beside them, in the reader's language."""
    quarters = [q.quarter for q in report.quarters]

    def figure(cell: schemas.NetworkCell, name: str) -> float | None:
        value = getattr(cell, name)
        return None if value is None else float(value)

    totals = Chart(
        i18n.gettext("The network's requests by quarter"),
        quarters,
        [
            (i18n.translate(title), [figure(q.total, name) for q in report.quarters])
            for title, name in (
                (N_("Requests"), "requests"),
                (N_("Accepted"), "accepted"),
                (N_("Delivered"), "delivered"),
            )
        ],
    )
    first = report.quarters[0].cells if report.quarters else []
    shown_keys = [
        (i, cell.key)
        for i, cell in enumerate(first)
        if any(not quarter.cells[i].suppressed for quarter in report.quarters)
    ]
    by_key = Chart(
        i18n.gettext(
            "Requests by quarter and %(dimension)s",
            dimension=i18n.translate(DIMENSION_LABELS[report.dimension]).lower(),
        ),
        quarters,
        [
            (
                i18n.gettext("None given") if key == service.NONE else label(report.dimension, key),
                [figure(q.cells[i], "requests") for q in report.quarters],
            )
            for i, key in shown_keys
        ],
    )
    return {"charts": [totals, by_key]}


# --- an office's quarter -------------------------------------------------------------------


def quarter_bounds(text: str | None, today: date) -> tuple[str, date, date] | None:
    """A quarter's name, first and last day (the last that has ended unless ``text`` names one);
    None if ``text`` is not a quarter."""
    if text is None:
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last_day = first - timedelta(days=1)
        first = date(last_day.year, 3 * ((last_day.month - 1) // 3) + 1, 1)
    else:
        year, _, number = text.partition("-Q")
        if not (year.isdigit() and len(year) == 4 and number in ("1", "2", "3", "4")):
            return None
        if not FIRST_YEAR <= int(year) <= LAST_YEAR:
            return None
        first = date(int(year), 3 * int(number) - 2, 1)
    following = date(first.year + (first.month + 3 > 12), (first.month + 2) % 12 + 1, 1)
    return f"{first.year}-Q{(first.month - 1) // 3 + 1}", first, following - timedelta(days=1)


async def delivered_engagements(
    db: AsyncSession, principal: Principal, first: date, last: date, office_id: str | None
) -> list[Engagement]:
    """The requests closed as delivered in the quarter that the organisation (the office, if one is
    chosen) asked or was asked, most recently closed first."""
    me = principal.org_id
    conditions = [
        readable(principal),
        SupportRequest.state == "completed",
        SupportRequest.outcome["delivered"].astext == "true",
        SupportRequest.closed_at >= datetime(first.year, first.month, first.day, tzinfo=UTC),
        SupportRequest.closed_at < datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
    ]
    if office_id:
        office = UUID(office_id)
        conditions.append(
            (SupportRequest.office_id == office) | SupportRequest.addressee_offices.contains([office])
        )
    else:
        conditions.append(
            (SupportRequest.organisation_id == me) | SupportRequest.addressee_orgs.contains([me])
        )
    found = await db.execute(
        select(SupportRequest.id, SupportRequest.title, SupportRequest.closed_at)
        .where(*conditions)
        .order_by(SupportRequest.closed_at.desc(), SupportRequest.id)
        .limit(ENGAGEMENTS)
    )
    return [Engagement(i, title, i18n.format_date(closed)) for i, title, closed in found]


KEY_FIGURES = (
    (N_("Requests"), "requests"),
    (N_("Offers"), "offers"),
    (N_("Offers accepted"), "offers_accepted"),
    (N_("Delivered"), "delivered"),
    (N_("Not delivered"), "not_delivered"),
    (N_("Experts deployed"), "experts"),
    (N_("First response, median (hours)"), "first_response_median"),
)


async def quarter_report(
    db: AsyncSession, principal: Principal, params: Any, errors: dict[str, str]
) -> Quarter | None:
    """The quarter the parameters ask for (``quarter``, ``office_id``, ``include`` a request each);
    None, and the mistakes in ``errors``, if they are not right."""
    bounds = quarter_bounds(params.get("quarter") or None, datetime.now(UTC).date())
    if bounds is None:
        errors["quarter"] = i18n.gettext("is not a quarter (YYYY-Qn)")
    office_id = params.get("office_id") or None
    mine = dict(await offices(db, principal))
    if office_id and office_id not in mine:
        errors["office_id"] = i18n.gettext("is not an office of your organisation")
    included = params.getall("include", []) if hasattr(params, "getall") else []
    if errors or bounds is None:
        return None
    name, first, last = bounds
    query = Query("/reports", {"from": first.isoformat(), "to": last.isoformat(), "group_by": "month"})
    if office_id:
        query.values["office_id"] = office_id
    record = await track_record(db, principal, query)
    assert record is not None
    total = record.total
    engagements = await delivered_engagements(db, principal, first, last, office_id)
    organisation = await db.scalar(select(Organisation.name).where(Organisation.id == principal.org_id))
    return Quarter(
        organisation=organisation or principal.org_slug,
        office=mine.get(office_id) if office_id else None,
        name=name,
        first=first,
        last=last,
        key_figures=[
            (i18n.translate(title), _number(_value(total, "asked", f)), _number(_value(total, "received", f)))
            for title, f in KEY_FIGURES
        ]
        + [(i18n.gettext("Trainings given"), None, _number(total.trainings))],
        charts=track_record_charts(record, "received"),
        engagements=engagements,
        chosen=[e for e in engagements if str(e.id) in included],
    )


def _number(value: float | str | None) -> float | None:
    return value if isinstance(value, int | float) else None


# --- lessons -------------------------------------------------------------------------------


def lesson_url(issuer: str, request_id: UUID) -> str:
    """Where a published lesson is read: the lessons library, searched for it."""
    return f"{issuer}/lessons?q={request_id}"


async def own_lesson(db: AsyncSession, principal: Principal, request_id: UUID) -> SupportRequest:
    """One of the organisation's own closed requests with an after-action note (404 otherwise)."""
    note = SupportRequest.outcome["note"].astext
    found = await db.scalar(
        select(SupportRequest).where(
            SupportRequest.id == request_id,
            SupportRequest.organisation_id == principal.org_id,
            SupportRequest.state == "completed",
            func.coalesce(note, "") != "",
        )
    )
    if found is None:
        raise NotFound(f"no lesson of request {request_id}")
    return found


async def publish(db: AsyncSession, principal: Principal, request_id: UUID, issuer: str) -> UUID:
    """The network's publication of one of the organisation's lessons: its request's title and
    themes, its note as the summary, the lessons library as where to read it; made once (publishing
    it again finds the first)."""
    lesson = await own_lesson(db, principal, request_id)
    url = lesson_url(issuer, request_id)
    published = await db.scalar(
        select(Publication.id).where(Publication.organisation_id == principal.org_id, Publication.url == url)
    )
    if published is not None:
        return published
    made = await training.create_publication(
        db,
        principal,
        training_schemas.PublicationCreate(
            title=i18n.gettext("Lesson: %(title)s", title=lesson.title)[:300],
            url=url,
            published_on=datetime.now(UTC).date(),
            summary=lesson.outcome["note"][:4000] if lesson.outcome else "",
            themes=list(lesson.themes)[:20],
            sharing="network",
        ),
        origin=issuer,
    )
    assert isinstance(made, training_schemas.Publication)
    return made.id


class ReportPages(Controller):
    include_in_schema = False

    @get("/reports", guards=[needs("requests:read")])
    async def track_record_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = parse(request.query_params)
        record = await track_record(db, principal, query)
        side = query.values.get("side", "asked")
        return page(
            "reports/track_record.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            filter_names={k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            record=record,
            table=table(record, side) if record else None,
            charts=track_record_charts(record, side) if record else [],
            side=side,
            group_labels=[(k, i18n.translate(v)) for k, v in GROUP_LABELS.items()],
            side_labels=[(k, i18n.translate(v)) for k, v in SIDE_LABELS.items()],
            offices=await offices(db, principal),
            options=options,
            shown=shown,
            export_url=query.url("/reports/export.csv"),
        )

    @get("/reports/export.csv", guards=[needs("requests:read")])
    async def export(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        """The table of ``/reports`` with the same filters, as CSV."""
        query = parse(request.query_params)
        record = await track_record(db, principal, query)
        if record is None:
            raise InvalidInput(
                "the track record's filters are not right",
                errors=[{"field": k, "message": v} for k, v in query.errors.items()],
            )
        return Response(
            table(record, query.values.get("side", "asked")).csv().encode(),
            media_type="text/csv",
            headers={
                "Content-Disposition": 'attachment; filename="track-record.csv"',
                "Cache-Control": "no-store",
            },
        )

    @get("/reports/network", guards=[needs("requests:read")])
    async def network_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = Query.of(
            "/reports/network",
            request.query_params,
            {"dimension": 12, "from": 7, "to": 7},
            choices={"dimension": schemas.DIMENSIONS},
        )
        report = None
        if not query.errors:
            try:
                parameters = service.parse_network(
                    query.values.get("dimension"), query.values.get("from"), query.values.get("to")
                )
            except InvalidInput as exc:
                query.errors_from(exc)
            else:
                body = await service.network_answer(
                    db, parameters, request.app.state.settings.reports_min_count
                )
                report = msgspec.json.decode(body, type=schemas.NetworkReport)
        return page(
            "reports/network.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            filter_names={k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            report=report,
            dimension_labels=[(k, i18n.translate(v)) for k, v in DIMENSION_LABELS.items()],
            shown=shown,
            **(network_views(report) if report else {"charts": []}),
        )

    @get("/reports/quarter", guards=[needs("requests:read")])
    async def quarter_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        errors: dict[str, str] = {}
        report = await quarter_report(db, principal, request.query_params, errors)
        return page(
            "reports/quarter.html",
            status_code=422 if errors else 200,
            errors=errors,
            filter_names={k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            report=report,
            values={k: request.query_params.get(k, "") for k in ("quarter", "office_id")},
            offices=await offices(db, principal),
            shown=shown,
            pdf_url="/reports/quarter.pdf" + (f"?{request.url.query}" if request.url.query else ""),
        )

    @get("/reports/quarter.pdf", guards=[needs("requests:read")])
    async def quarter_pdf(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        errors: dict[str, str] = {}
        report = await quarter_report(db, principal, request.query_params, errors)
        if report is None:
            raise InvalidInput(
                "the quarter's parameters are not right",
                errors=[{"field": k, "message": v} for k, v in errors.items()],
            )
        return Response(
            pdf.quarter(report),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="msnet-{report.name}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    @get("/lessons", guards=[needs("requests:read")])
    async def lessons_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = Query.of(
            "/lessons", request.query_params, {"q": 200, "theme": 60, "region": 60, "process_id": 36}
        )
        found = None
        if not query.errors:
            process_id = None
            if "process_id" in query.values:
                try:
                    process_id = UUID(query.values["process_id"])
                except ValueError:
                    query.errors["process_id"] = i18n.gettext("is not a process's identifier")
            if not query.errors:
                filters = service.LessonFilter(
                    q=query.values.get("q"),
                    theme=query.values.get("theme"),
                    region=query.values.get("region"),
                    process_id=process_id,
                )
                try:
                    found = await service.lessons(
                        db, principal, filters, limit=LESSONS_PAGE, cursor=query.cursor
                    )
                except InvalidInput as exc:
                    query.errors_from(exc)
        return page(
            "reports/lessons.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            filter_names={k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            found=found,
            options=options,
            label=label,
            outcome_labels={k: i18n.translate(v) for k, v in OUTCOME_LABELS.items()},
            can_publish="training:write" in principal.scopes,
            published=request.query_params.get("published"),
        )

    @post("/lessons/{request_id:uuid}/publish", guards=[needs("requests:read", "training:write")])
    async def publish_lesson(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Redirect:
        """Publish one of the organisation's lessons to the network."""
        issuer = request.app.state.settings.issuer
        publication_id = await publish(db, principal, request_id, issuer)
        return Redirect(f"/lessons?published={publication_id}", status_code=303)
