"""/v1/offices and /v1/capacities: the directory."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Code, Cursor, Limit, Slug, Term, Text, cached
from msnet.auth.principal import Principal, provide_optional_principal, provide_principal, reads, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.directory import schemas, service
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.preconditions import IfMatch, etag
from msnet.problems import READ_RESPONSES, WRITE_RESPONSES, problem_responses


def _with_etag(record: schemas.Office | schemas.Capacity, status: int = 200) -> Response:
    return Response(record, status_code=status, headers={"ETag": etag(record.version)})


class OfficeController(Controller):
    path = "/v1/offices"
    tags = ["directory"]
    dependencies = {"viewer": Provide(provide_optional_principal), "principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Search offices",
        guards=[reads("directory:read")],
        responses=READ_RESPONSES,
        opt={**FROM_REPLICA, **cached(unless_given=frozenset({"include_stale"}))},
    )
    async def search_offices(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        q: Text = None,
        organisation: Slug = None,
        service_type: Term = None,
        theme: Term = None,
        country: Code = None,
        region: Term = None,
        language: Code = None,
        include_stale: FromQuery[bool] = True,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.OfficePage:
        """Search the mediation support offices you may see (`q`, `organisation`, `service_type`, `theme`,
        `country`, `region`, `language`), ranked by relevance, with facets. Scope `directory:read` with
        a token; without one, public records only."""
        filters = service.DirectoryFilter(
            q=q,
            organisation=organisation,
            service_type=service_type,
            theme=theme,
            country=country,
            region=region,
            language=language,
            include_stale=include_stale,
        )
        return await service.search_offices(db, viewer, filters, limit=limit, cursor=cursor)

    @post("/", summary="Register an office", guards=[requires("directory:write")], responses=WRITE_RESPONSES)
    async def register_office(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.OfficeCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Office:
        """Register an office of your organisation (a mediation support unit, a division, a liaison
        office). Scope `directory:write`; honours `Idempotency-Key`; 422 names every bad field."""
        return replayable(
            await service.create_office(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{office_id:uuid}",
        summary="One office",
        guards=[reads("directory:read")],
        responses=problem_responses(401, 403, 404),
        opt=cached(),
    )
    async def get_office(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        office_id: FromPath[UUID],
    ) -> Response[schemas.Office]:
        """One office you may see, with its ETag. Scope `directory:read` with a token; without one, public
        offices only; 404 otherwise."""
        return _with_etag(await service.office_schema(db, await service.get_office(db, viewer, office_id)))

    @patch(
        "/{office_id:uuid}",
        summary="Change an office (If-Match)",
        guards=[requires("directory:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_office(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        office_id: FromPath[UUID],
        data: JSONBody[schemas.OfficeUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Office]:
        """Change one of your offices: send only the fields that change, with `If-Match` set to its ETag
        (412 when stale). Scope `directory:write`; 404 for another organisation's office."""
        return _with_etag(await service.update_office(db, principal, office_id, data, if_match))

    @delete(
        "/{office_id:uuid}",
        summary="Delete an office and its capacities",
        guards=[requires("directory:write")],
        responses=WRITE_RESPONSES,
    )
    async def delete_office(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        office_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        """Delete one of your offices and its capacities (`If-Match`). Scope `directory:write`; 404 for
        another organisation's office."""
        await service.delete_office(db, principal, office_id, if_match)

    @get(
        "/{office_id:uuid}/capacities",
        summary="An office's capacities",
        guards=[reads("directory:read")],
        responses=problem_responses(401, 403, 404),
        opt=FROM_REPLICA,
    )
    async def list_office_capacities(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        office_id: FromPath[UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.CapacityPage:
        """The capacities of an office that you may see. Scope `directory:read` with a token; without one,
        public records only. 404 for an office you may not see."""
        await service.get_office(db, viewer, office_id)
        return await service.search_capacities(
            db, viewer, service.DirectoryFilter(office_id=office_id), limit=limit, cursor=cursor
        )

    @post(
        "/{office_id:uuid}/capacities",
        summary="Add a capacity to an office",
        guards=[requires("directory:write")],
        responses=WRITE_RESPONSES,
    )
    async def add_capacity(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        office_id: FromPath[UUID],
        data: JSONBody[schemas.CapacityCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Capacity:
        """Add a capacity (a service type, themes, coverage, languages, lead time, engagements it can take)
        to one of your offices. Scope `directory:write`; honours `Idempotency-Key`; 404 for another
        organisation's office; 422 names every bad field."""
        return replayable(
            await service.create_capacity(
                db,
                principal,
                office_id,
                data,
                origin=request.app.state.settings.issuer,
                idempotency_key=idempotency_key,
            )
        )


class CapacityController(Controller):
    path = "/v1/capacities"
    tags = ["directory"]
    dependencies = {"viewer": Provide(provide_optional_principal), "principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Search capacities (stale ones ranked lower)",
        guards=[reads("directory:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_capacities(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        q: Text = None,
        organisation: Slug = None,
        service_type: Term = None,
        theme: Term = None,
        country: Code = None,
        region: Term = None,
        language: Code = None,
        include_stale: FromQuery[bool] = True,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.CapacityPage:
        """Search the capacities you may see by service type, theme, country, region and language, with
        facets; capacities not confirmed for 180 days are marked `stale` and ranked lower
        (`include_stale=false` leaves them out). Scope `directory:read` with a token; without one,
        public records only."""
        filters = service.DirectoryFilter(
            q=q,
            organisation=organisation,
            service_type=service_type,
            theme=theme,
            country=country,
            region=region,
            language=language,
            include_stale=include_stale,
        )
        return await service.search_capacities(db, viewer, filters, limit=limit, cursor=cursor)

    @patch(
        "/{capacity_id:uuid}",
        summary="Change a capacity (If-Match)",
        guards=[requires("directory:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_capacity(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        capacity_id: FromPath[UUID],
        data: JSONBody[schemas.CapacityUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Capacity]:
        """Change one of your capacities: only the fields that change, with `If-Match` (412 when stale).
        Scope `directory:write`."""
        return _with_etag(await service.update_capacity(db, principal, capacity_id, data, if_match))

    @post(
        "/{capacity_id:uuid}/confirm",
        summary="Confirm a capacity is still offered",
        status_code=200,
        guards=[requires("directory:write")],
        responses=problem_responses(401, 403, 404),
    )
    async def confirm_capacity(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        capacity_id: FromPath[UUID],
    ) -> Response[schemas.Capacity]:
        """Confirm that one of your capacities is still offered: it is no longer ranked lower as stale for
        180 days. Scope `directory:write`."""
        return _with_etag(await service.confirm_capacity(db, principal, capacity_id))

    @delete(
        "/{capacity_id:uuid}",
        summary="Delete a capacity",
        guards=[requires("directory:write")],
        responses=WRITE_RESPONSES,
    )
    async def delete_capacity(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        capacity_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        """Delete one of your capacities (`If-Match`). Scope `directory:write`; 404 for another
        organisation's capacity."""
        await service.delete_capacity(db, principal, capacity_id, if_match)
