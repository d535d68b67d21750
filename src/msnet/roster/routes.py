"""/v1/experts: the roster; contact details only through /contact, with roster:contact, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, RawBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Code, Cursor, Limit, Slug, Term, Text
from msnet.auth.principal import (
    Principal,
    optional_principal,
    provide_optional_principal,
    provide_principal,
    reads,
    requires,
)
from msnet.auth.transaction import FROM_REPLICA
from msnet.errors import HeldElsewhere
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.preconditions import IfMatch, etag
from msnet.problems import READ_RESPONSES, WRITE_RESPONSES, problem_responses
from msnet.roster import schemas, service, transfer

EXPORT_LIMIT = 10_000
CSV = "text/csv"


Day = Annotated[date | None, QueryParameter(description="A date (YYYY-MM-DD).")]


@dataclass
class CsvOrJsonOperation(Operation):
    """The export answers CSV by default and a JSON array with ``format=json``: document both."""

    def __post_init__(self) -> None:
        ok = self.responses["200"] if self.responses else None
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content["application/json"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.ARRAY))


@dataclass
class CsvBodyOperation(Operation):
    """The import reads a CSV body (not JSON, which is what Litestar documents by itself)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={CSV: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
            description="A roster CSV, UTF-8, with a header row (the columns of the export).",
            required=True,
        )


def _with_etag(expert: schemas.Expert) -> Response[schemas.Expert]:
    return Response(expert, headers={"ETag": etag(expert.version)})


class ExpertController(Controller):
    path = "/v1/experts"
    tags = ["roster"]
    dependencies = {"viewer": Provide(provide_optional_principal), "principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Search the roster",
        guards=[reads("roster:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_experts(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        q: Text = None,
        organisation: Slug = None,
        theme: Term = None,
        service_type: Term = None,
        language: Code = None,
        country: Code = None,
        region: Term = None,
        seniority: FromQuery[schemas.Seniority | None] = None,
        available_from: Day = None,
        available_to: Day = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.ExpertPage:
        """Search the expert roster you may see (`q`, `service_type`, `theme`, `language`, `region`,
        `seniority`, availability window), ranked by relevance, with facets; never contact details.
        Scope `roster:read` with a token; without one, public entries only."""
        filters = service.ExpertFilter(
            q=q,
            organisation=organisation,
            theme=theme,
            service_type=service_type,
            language=language,
            country=country,
            region=region,
            seniority=seniority,
            available_from=available_from,
            available_to=available_to,
        )
        # the caller from the request, not as a dependency after ``db``: cheaper still
        viewer = optional_principal(request)
        return await service.search_experts(db, viewer, filters, limit=limit, cursor=cursor)

    @get(
        "/export",
        summary="Export what the caller may see of the roster, as CSV or JSON (no contact details)",
        guards=[reads("roster:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
        media_type="text/csv",
        operation_class=CsvOrJsonOperation,
    )
    async def export_experts(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        format: FromQuery[Literal["csv", "json"]] = "csv",
        organisation: Slug = None,
        theme: Term = None,
        language: Code = None,
        region: Term = None,
    ) -> Response[bytes]:
        """Everything of the roster you may see, as CSV (the format `msnet roster import` reads) or JSON
        (`format`); never contact details. Scope `roster:read`."""
        filters = service.ExpertFilter(
            organisation=organisation, theme=theme, language=language, region=region
        )
        page = await service.search_experts(db, viewer, filters, limit=EXPORT_LIMIT, cursor=None)
        if format == "json":
            return Response(msgspec.json.encode(page.items), media_type="application/json")
        return Response(
            transfer.to_csv(page.items).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="roster.csv"'},
        )

    @post(
        "/import",
        summary="Import a roster CSV: create and update experts, all or nothing",
        guards=[requires("roster:write")],
        responses=WRITE_RESPONSES,
        status_code=200,
        operation_class=CsvBodyOperation,
    )
    async def import_experts(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        body: RawBody,
        mode: Annotated[
            schemas.ImportMode | None,
            QueryParameter(
                description="`upsert`: update the expert a row names by external_id (or id), create the "
                "others; `create`: only create. Default: upsert when a row has an external_id or an id."
            ),
        ] = None,
        dry_run: Annotated[
            bool, QueryParameter(description="Check and report what would be done; write nothing.")
        ] = False,
    ) -> schemas.ImportReport:
        """Import a CSV (`Content-Type: text/csv`, the columns of the export) into your roster. Every row
        is checked first; any mistake is a 422 naming each one (`row N, column`) and nothing is written.
        The report lists the experts created, updated (with the fields changed) and left unchanged.
        Scope `roster:write`."""
        if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != CSV:
            raise HTTPException(status_code=415, detail=f"send the body as {CSV}")
        return await transfer.import_roster(
            db,
            principal,
            transfer.decoded(body),
            origin=request.app.state.settings.issuer,
            mode=mode,
            dry_run=dry_run,
        )

    @post(
        "/",
        summary="Add an expert to the roster",
        guards=[requires("roster:write")],
        responses=WRITE_RESPONSES,
    )
    async def add_expert(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.ExpertCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Expert:
        """Add an expert to your organisation's roster: expertise, languages, regions, seniority,
        availability, and the consent the entry rests on. Scope `roster:write`; honours `Idempotency-
        Key`; 422 names every bad field."""
        return replayable(
            await service.create_expert(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{expert_id:uuid}",
        summary="One expert (no contact details)",
        guards=[reads("roster:read")],
        responses=problem_responses(401, 403, 404),
    )
    async def get_expert(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        expert_id: FromPath[UUID],
    ) -> Response[schemas.Expert]:
        """One roster entry you may see, without contact details. Scope `roster:read` with a token; 404
        otherwise."""
        return _with_etag(
            await service.expert_schema(db, await service.get_expert(db, viewer, expert_id), viewer)
        )

    @patch(
        "/{expert_id:uuid}",
        summary="Change an expert's entry (If-Match)",
        guards=[requires("roster:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_expert(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
        data: JSONBody[schemas.ExpertUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Expert]:
        """Change one of your experts' entries: only the fields that change, with `If-Match` (412 when
        stale). Scope `roster:write`."""
        return _with_etag(await service.update_expert(db, principal, expert_id, data, if_match))

    @delete(
        "/{expert_id:uuid}",
        summary="Erase an expert's personal data (a tombstone keeps the id)",
        guards=[requires("roster:write")],
        responses=WRITE_RESPONSES,
    )
    async def erase_expert(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        """Erase one of your experts' personal data (a tombstone keeps the id, so federated copies are
        erased too). Scope `roster:write`; 404 for another organisation's expert."""
        await service.erase_expert(db, principal, expert_id, if_match)

    @get(
        "/{expert_id:uuid}/contact",
        summary="An expert's contact details (audited)",
        guards=[requires("roster:contact")],
        responses=problem_responses(401, 403, 404, 503),
    )
    async def get_expert_contact(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
    ) -> schemas.ExpertContact:
        """An expert's e-mail and phone. Scope `roster:contact`; every read is audit-logged for the reader
        and, for another organisation's expert, disclosed in the owner's log. 404 for an expert you may
        not see. An expert held from a peer node (its `origin` is another node) has no contact details
        here: they never leave its home node, which this node asks on your organisation's behalf (it
        applies its own sharing rules to your organisation and records the disclosure in its audit log
        too); 503 naming the node to ask (`home_node`) when it does not answer."""
        try:
            return await service.read_contact(db, principal, expert_id)
        except HeldElsewhere as exc:
            ask_home = request.app.state.ask_home  # msnet.federation.contact.ask_home, set by the app
            return await ask_home(request, db, principal, expert_id, exc.extra["home_node"])
