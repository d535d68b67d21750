"""API boundary of the organisation registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from msnet.api import Struct
from msnet.fields import Slug

OrgKind = Literal["global", "regional", "subregional", "interregional", "other"]
OrgIdentifier = Annotated[
    str,
    Meta(
        pattern=r"^[A-Z]{2}-[A-Z0-9]+-[A-Za-z0-9._-]{1,60}$",
        description="An org-id.guide identifier, e.g. `XM-DAC-41301` or `XI-WIKIDATA-Q7159`.",
        examples=["XI-WIKIDATA-Q7159"],
    ),
]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=300)]


class OrganisationCreate(Struct):
    slug: Slug
    name: Annotated[str, Meta(min_length=2, max_length=200)]
    kind: OrgKind = "other"
    acronym: Annotated[str, Meta(min_length=1, max_length=20)] | None = None
    identifiers: Annotated[list[OrgIdentifier], Meta(max_length=10)] = []
    home_node: HttpUrl | None = None


class Organisation(Struct):
    """A member organisation of the network (the tenant): its slug, name, kind, org-id.guide identifiers and
    home node."""

    id: UUID
    slug: Slug
    name: Annotated[str, Meta(examples=["African Union"])]
    acronym: Annotated[str | None, Meta(examples=["AU"])]
    kind: Annotated[OrgKind, Meta(examples=["regional"])]
    identifiers: Annotated[list[str], Meta(examples=[["XI-WIKIDATA-Q7159"]])]
    home_node: Annotated[str | None, Meta(examples=["https://msnet.au.int"])]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime


class OrganisationPage(Struct):
    """A page of member organisations."""

    items: list[Organisation]
    next_cursor: str | None
    total: int
