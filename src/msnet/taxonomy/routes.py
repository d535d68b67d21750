"""/v1/taxonomy: the controlled vocabularies, public and cacheable."""

from __future__ import annotations

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromHeader, FromQuery, HeaderParameter

from msnet.problems import problem_responses
from msnet.taxonomy import schemas, service

CACHE_CONTROL = CacheControlHeader(public=True, max_age=3600)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison, a list of tags or ``*``."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


class TaxonomyController(Controller):
    path = "/v1/taxonomy"
    tags = ["taxonomy"]

    @get(
        "/",
        summary="The taxonomy: service types, themes, regions, countries, languages",
        description=(
            "Every term has a stable id and English and French labels. Public: no token needed. "
            "With `kind`, only that list is filled and the others are empty. Answers carry an ETag; "
            "send it back in `If-None-Match` to get a 304 while the taxonomy is unchanged."
        ),
        cache_control=CACHE_CONTROL,
        response_headers=[
            ResponseHeader(
                name="ETag",
                description="Strong validator of this answer.",
                documentation_only=True,
                value='"9f2c41d07ab3e5816c4d2f90e7b1a3c5"',  # not sent (documentation only): gives the header its schema
                example='"9f2c41d07ab3e5816c4d2f90e7b1a3c5"',
            )
        ],
        responses={
            **problem_responses(),
            304: ResponseSpec(data_container=None, description="Not Modified: the ETag sent still holds"),
        },
    )
    async def get_taxonomy(
        self,
        kind: FromQuery[schemas.ListKind | None] = None,
        if_none_match: FromHeader[str | None] = HeaderParameter(name="If-None-Match", default=None),
    ) -> Response[schemas.Taxonomy]:
        published = service.published(kind)
        headers = {"ETag": published.etag}
        if _matches(if_none_match, published.etag):
            return Response(content=b"", status_code=304, headers=headers)
        return Response(content=published.body, media_type=MediaType.JSON, headers=headers)
