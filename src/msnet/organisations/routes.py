"""/v1/organisations: the registry of the network's organisations (public)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit, cached
from msnet.organisations import schemas, service
from msnet.problems import problem_responses


class OrganisationController(Controller):
    path = "/v1/organisations"
    tags = ["organisations"]

    @get("/", summary="List the organisations of the network", responses=problem_responses(), opt=cached())
    async def list_organisations(
        self,
        db: NamedDependency[AsyncSession],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        kind: FromQuery[schemas.OrgKind | None] = None,
    ) -> schemas.OrganisationPage:
        """The member organisations of the network (filter `kind`), keyset-paginated. Public: no token
        needed."""
        return await service.list_organisations(db, limit=limit, cursor=cursor, kind=kind)

    @get("/{slug:str}", summary="One organisation", responses=problem_responses(404), opt=cached())
    async def get_organisation(
        self, db: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> schemas.Organisation:
        """One member organisation of the network by its slug (`au`), with its kind and identifiers.
        Public: no token needed. 404 if no such organisation."""
        return service.to_schema(await service.get_by_slug(db, slug))
