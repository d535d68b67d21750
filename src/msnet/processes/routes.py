"""/v1/processes: the registry of peace processes that requests refer to."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Code, Cursor, Limit, Slug, Term, Text
from msnet.auth.principal import Principal, provide_optional_principal, provide_principal, reads, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.preconditions import IfMatch, OptionalIfMatch, etag
from msnet.problems import READ_RESPONSES, WRITE_RESPONSES, problem_responses
from msnet.processes import schemas, service


def _with_etag(process: schemas.Process) -> Response[schemas.Process]:
    return Response(process, headers={"ETag": etag(process.version)})


class ProcessController(Controller):
    path = "/v1/processes"
    tags = ["processes"]
    dependencies = {"viewer": Provide(provide_optional_principal), "principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Find peace processes",
        guards=[reads("requests:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_processes(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        q: Text = None,
        organisation: Slug = None,
        country: Code = None,
        region: Term = None,
        level: FromQuery[schemas.Level | None] = None,
        track: FromQuery[schemas.Track | None] = None,
        phase: FromQuery[schemas.Phase | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.ProcessPage:
        """Find the peace processes you may see (`q`, `country`, `region`, `level`, `track`, `phase`,
        `organisation`): requests refer to them, which is what lets overlaps be detected. Scope
        `requests:read` with a token; without one, public processes only."""
        filters = service.ProcessFilter(
            q=q,
            organisation=organisation,
            country=country,
            region=region,
            level=level,
            track=track,
            phase=phase,
        )
        return await service.search_processes(db, viewer, filters, limit=limit, cursor=cursor)

    @post(
        "/", summary="Propose a peace process", guards=[requires("requests:write")], responses=WRITE_RESPONSES
    )
    async def propose_process(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.ProcessCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Process:
        """Propose a peace process (countries or region, level, track, lead mediators, parties,
        references): any member organisation may. Look for it first: a duplicate can be merged later.
        Scope `requests:write`; honours `Idempotency-Key`."""
        return replayable(
            await service.create_process(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{process_id:uuid}",
        summary="One process (a merged id resolves to the process it was merged into)",
        guards=[reads("requests:read")],
        responses=problem_responses(401, 403, 404),
    )
    async def get_process(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        process_id: FromPath[UUID],
    ) -> Response[schemas.Process]:
        """One process you may see; an id merged away answers the surviving process, which lists it in
        `aliases`. Scope `requests:read` with a token; 404 otherwise."""
        return _with_etag(await service.process_schema(db, await service.resolve(db, viewer, process_id)))

    @patch(
        "/{process_id:uuid}",
        summary="Change a process the caller proposed (If-Match)",
        guards=[requires("requests:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_process(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        process_id: FromPath[UUID],
        data: JSONBody[schemas.ProcessUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Process]:
        """Change a process your organisation proposed: only the fields that change, with `If-Match` (412
        when stale). Scope `requests:write`."""
        return _with_etag(await service.update_process(db, principal, process_id, data, if_match))

    @post(
        "/{process_id:uuid}/merge",
        summary="Merge this duplicate into another process (its id stays as an alias)",
        guards=[requires("requests:write")],
        responses=WRITE_RESPONSES,
        status_code=200,
    )
    async def merge_process(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        process_id: FromPath[UUID],
        data: JSONBody[schemas.ProcessMerge],
        if_match: OptionalIfMatch = None,
    ) -> Response[schemas.Process]:
        """Merge your duplicate process into another (`into`): its id stays as an alias and the requests on
        it follow. Scope `requests:write`; 422 for an unknown target or the process itself."""
        return _with_etag(await service.merge_process(db, principal, process_id, data, if_match))
