"""/v1/reports/track-record, /v1/reports/network and /v1/lessons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Example, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit, Term, Text
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.problems import READ_RESPONSES
from msnet.reports import schemas, service

CSV = "text/csv"
CSV_EXAMPLE = (
    ",".join(service.CSV_COLUMNS) + "\r\n"
    "2027-Q1,,4,5,3,1,2,1,4,26.5,70.2,50.0,96.0,the talks were suspended,6,3,2,2,1,0,3,12.0,40.5,48.0,90.0,,1\r\n"
)


def _raw(description: str, name: str | None = None, **schema: object) -> object:
    """A query parameter taken as text and checked with the others (one 422 names every bad one)."""
    return QueryParameter(description=description, max_length=200, name=name, schema_extra=schema or None)


From = Annotated[
    str | None,
    _raw(
        "The first day of the period (YYYY-MM-DD, UTC); default 1 January of `to`'s year.",
        "from",
        format="date",
    ),
]
To = Annotated[
    str | None, _raw("The last day of the period (YYYY-MM-DD, UTC); default today.", format="date")
]
GroupBy = Annotated[
    str | None, _raw("How the figures are grouped; default `quarter`.", enum=list(schemas.GROUP_BY))
]
Format = Annotated[
    str | None, _raw("`csv` answers CSV, as `Accept: text/csv` does; default JSON.", enum=["json", "csv"])
]
OfficeId = Annotated[
    str | None, _raw("Only the requests of this office of yours (asked or received).", format="uuid")
]
ProcessId = Annotated[
    str | None, _raw("Only the requests on this process (or one merged into it).", format="uuid")
]
Dimension = Annotated[
    str | None,
    _raw("The fixed dimension beside the quarter; default `theme`.", enum=list(schemas.DIMENSIONS)),
]
FromQuarter = Annotated[
    str | None,
    _raw(
        "The first quarter (YYYY-Qn); default three quarters before `to`.", "from", pattern=r"^\d{4}-Q[1-4]$"
    ),
]
ToQuarter = Annotated[
    str | None,
    _raw(
        "The last quarter (YYYY-Qn), one that has ended; default the last that has.",
        pattern=r"^\d{4}-Q[1-4]$",
    ),
]


@dataclass
class JsonOrCsvOperation(Operation):
    """The track record answers JSON, or CSV with `Accept: text/csv` or `format=csv`: document both."""

    def __post_init__(self) -> None:
        ok = self.responses["200"] if self.responses else None
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[CSV] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING), examples={"example": Example(value=CSV_EXAMPLE)}
            )


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/track-record",
        summary="Your organisation's track record for a period, grouped (JSON or CSV)",
        guards=[requires("requests:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
        operation_class=JsonOrCsvOperation,
    )
    async def show_track_record(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        from_: From = None,
        to: To = None,
        group_by: GroupBy = None,
        office_id: OfficeId = None,
        theme: Term = None,
        service_type: Term = None,
        region: Term = None,
        country: Annotated[
            str | None, QueryParameter(max_length=3, description="ISO 3166-1 alpha-2.")
        ] = None,
        process_id: ProcessId = None,
        format: Format = None,
    ) -> Response[schemas.TrackRecord]:
        """What your organisation asked and was asked for the requests submitted in the period (`from`,
        `to`), grouped by month, quarter, theme, service type, region, country, process or outcome:
        requests, offers, offers accepted, declines, delivered and not delivered (with the reasons
        given), median and 90th-percentile hours to the first response and to acceptance, expert places,
        and the trainings you share. Only your own organisation's figures, ever. Scope `requests:read`;
        one 422 names every bad parameter. `Accept: text/csv` (or `format=csv`) answers the same rows
        and total as CSV. Figures follow a change within MSNET_REPORTS_REFRESH_SECONDS."""
        query = service.TrackRecordQuery(
            from_=from_,
            to=to,
            group_by=group_by,
            office_id=office_id,
            theme=theme,
            service_type=service_type,
            region=region,
            country=country,
            process_id=process_id,
            format=format,
        )
        parameters = await service.parse_track_record(db, principal, query)
        as_csv = parameters.format == "csv" or (
            parameters.format is None
            and request.accept.best_match(["application/json", CSV], "application/json") == CSV
        )
        body = await service.track_record_answer(db, principal, parameters, as_csv)
        if as_csv:
            return Response(
                body,  # type: ignore[arg-type]
                media_type=CSV,  # Litestar adds the charset of a text type itself
                headers={"Content-Disposition": 'attachment; filename="track-record.csv"'},
            )
        return Response(body, media_type="application/json")  # type: ignore[arg-type]

    @get(
        "/network",
        summary="The network's figures by quarter and theme, region or service type, small cells suppressed",
        guards=[requires("requests:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def show_network_report(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        dimension: Dimension = None,
        from_: FromQuarter = None,
        to: ToQuarter = None,
    ) -> Response[schemas.NetworkReport]:
        """Every member organisation's requests together, by whole quarters that have ended and one
        fixed dimension (`theme`, `region`, `service_type`): the same figures as a track record, naming
        no organisation. A cell is shown only when at least MSNET_REPORTS_MIN_COUNT of its requests come
        from organisations other than the one that asked most in it; otherwise every figure is null and
        `suppressed` is true (and, in a quarter where only one cell would be, the smallest other one
        too). Scope `requests:read`; one 422 names every bad parameter."""
        parameters = service.parse_network(dimension, from_, to)
        body = await service.network_answer(db, parameters, request.app.state.settings.reports_min_count)
        return Response(body, media_type="application/json")  # type: ignore[arg-type]


class LessonController(Controller):
    path = "/v1/lessons"
    tags = ["reports"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Search the lessons of closed requests",
        guards=[requires("requests:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_lessons(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        q: Text = None,
        theme: Term = None,
        region: Term = None,
        process_id: Annotated[
            UUID | None, QueryParameter(description="A process (or one merged into it).")
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.LessonPage:
        """The after-action notes given when closing requests (the outcome's `note`), with what each
        request was about and how it ended, most recently closed first: of the requests you may read
        (yours, those addressed to you, those shared with you). Search the words of the note, title and
        description (`q`), a theme, a region of the process, a process. Scope `requests:read`."""
        filters = service.LessonFilter(q=q, theme=theme, region=region, process_id=process_id)
        return await service.lessons(db, principal, filters, limit=limit, cursor=cursor)
