"""The directory as pages: organisations, offices and capacities searched with the API's filters and
facets (``/directory``), an office's page with its capacities and their freshness
(``/directory/offices/{id}``), and the one-click confirmation that a capacity is still offered.

Every page calls the directory's services as the signed-in person (never the API over HTTP), so a
person sees exactly what the API would show a client of their organisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal, requires
from msnet.directory import schemas, service
from msnet.errors import InvalidInput
from msnet.web import i18n
from msnet.web.i18n import N_
from msnet.web.listing import (
    Query,
    count_text,
    facet_views,
    htmx_fragment,
    label,
    options,
    organisation_names,
)
from msnet.web.pages import needs, page, signed_in

PAGE_SIZE = 20
#: The most capacities an office's page lists.
OFFICE_CAPACITIES = 100
TARGET = "directory-search"
VIEWS = ("offices", "capacities", "organisations")
#: The filters of a search, as the URL names them, and the longest value each takes (the API's).
FILTERS = {
    "q": 200,
    "organisation": 32,
    "service_type": 60,
    "theme": 60,
    "country": 3,
    "region": 60,
    "language": 3,
    "fresh": 1,
    "view": 13,
}
FACET_TITLES = {
    "theme": N_("Theme"),
    "service_type": N_("Service type"),
    "language": N_("Language"),
    "region": N_("Region"),
    "organisation": N_("Organisation"),
}
FILTER_NAMES = {
    **FACET_TITLES,
    "q": N_("Words"),
    "country": N_("Country"),
    "fresh": N_("Confirmed in the last 180 days only"),
    "view": N_("Show"),
    "cursor": N_("Page"),
}
VIEW_LABELS = {
    "offices": N_("Offices"),
    "capacities": N_("Capacities"),
    "organisations": N_("Organisations"),
}
SHARING_LABELS = {
    "private": N_("Private: your organisation only"),
    "restricted": N_("Restricted: the organisations named"),
    "network": N_("Network: every member organisation"),
    "public": N_("Public: anyone"),
}


async def manages_directory(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard: a signed-in roster manager (the scope ``directory:write``) or organisation
    administrator; the record's organisation is checked by the service."""
    await signed_in(connection, handler)
    if "org:admin" not in connection.scope["auth"].scopes:
        await requires("directory:write")(connection, handler)


def may_confirm(principal: Principal, organisation: str) -> bool:
    """Whether ``principal`` manages the directory records of ``organisation``."""
    return organisation == principal.org_slug and bool({"directory:write", "org:admin"} & principal.scopes)


def named(facet: str, term: str, orgs: dict[str, str]) -> str:
    return orgs.get(term, term) if facet == "organisation" else label(facet, term)


def parse(params: Any) -> Query:
    return Query.of("/directory", params, FILTERS, choices={"fresh": ("1",), "view": VIEWS})


def filters_of(query: Query) -> service.DirectoryFilter:
    values = query.values
    return service.DirectoryFilter(
        q=values.get("q"),
        organisation=values.get("organisation"),
        service_type=values.get("service_type"),
        theme=values.get("theme"),
        country=values.get("country"),
        region=values.get("region"),
        language=values.get("language"),
        include_stale=values.get("fresh") != "1",
    )


def capacity_view(capacity: schemas.Capacity, orgs: dict[str, str], principal: Principal) -> dict[str, Any]:
    """A capacity as the pages show it: its terms by name, its freshness, whether the reader may
    confirm it."""
    places = [label("country", c) for c in capacity.countries] + [
        label("region", r) for r in capacity.regions
    ]
    return {
        "id": capacity.id,
        "office_id": capacity.office_id,
        "office": capacity.office,
        "organisation": orgs.get(capacity.organisation, capacity.organisation),
        "service_type": label("service_type", capacity.service_type),
        "themes": ", ".join(label("theme", t) for t in capacity.themes),
        "languages": ", ".join(label("language", c) for c in capacity.languages),
        "places": ", ".join(places),
        "lead_time": i18n.ngettext(
            "%(days)s day",
            "%(days)s days",
            capacity.lead_time_days,
            days=i18n.format_number(capacity.lead_time_days),
        ),
        "engagements": i18n.format_number(capacity.concurrent_engagements),
        "notes": capacity.notes,
        "confirmed_on": i18n.format_date(capacity.last_confirmed_at),
        "stale": capacity.stale,
        "may_confirm": may_confirm(principal, capacity.organisation),
    }


@dataclass(frozen=True, slots=True)
class OfficeRow:
    """An office among the results: attributes, not a dict's keys (a template's ``office.name`` on a
    dict raises and catches an AttributeError before it looks the key up)."""

    id: UUID
    name: str
    organisation: str
    parent_structure: str


@dataclass(frozen=True, slots=True)
class OrganisationRow:
    """An organisation among the results of the organisations' view, and its matching offices."""

    slug: str
    name: str
    count: str


def organisation_rows(counts: dict[str, int], orgs: dict[str, str]) -> list[OrganisationRow]:
    """The organisations of the organisation facet's ``counts`` by name, each with its count (only the
    organisations' view lists them: formatting some fifty counts was a tenth of the page's work)."""
    language = i18n.current()
    rows = [
        OrganisationRow(slug, orgs.get(slug, slug), count_text(n, language)) for slug, n in counts.items()
    ]
    return sorted(rows, key=lambda row: row.name.casefold())


def found_message(view: str, total: int) -> str:
    number = count_text(total, i18n.current())
    if view == "capacities":
        return i18n.ngettext("%(count)s capacity found", "%(count)s capacities found", total, count=number)
    if view == "organisations":
        return i18n.ngettext(
            "%(count)s organisation has matching offices",
            "%(count)s organisations have matching offices",
            total,
            count=number,
        )
    return i18n.ngettext("%(count)s office found", "%(count)s offices found", total, count=number)


class DirectoryPages(Controller):
    """``/directory``: the search, an office's page, and confirming a capacity."""

    path = "/directory"
    include_in_schema = False

    @get("/", guards=[needs("directory:read")])
    async def search_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = parse(request.query_params)
        view = query.values.get("view", "offices")
        found: schemas.OfficePage | schemas.CapacityPage | None = None
        if not query.errors:
            try:
                if view == "capacities":
                    found = await service.search_capacities(
                        db, principal, filters_of(query), limit=PAGE_SIZE, cursor=query.cursor
                    )
                else:
                    found = await service.search_offices(
                        db,
                        principal,
                        filters_of(query),
                        limit=1 if view == "organisations" else PAGE_SIZE,
                        cursor=None if view == "organisations" else query.cursor,
                    )
            except InvalidInput as exc:
                query.errors_from(exc)
        orgs = await organisation_names(db)
        facets = found.facets if found else {}
        organisations = (
            organisation_rows(facets.get("organisation", {}), orgs) if view == "organisations" else []
        )
        total = len(organisations) if view == "organisations" else found.total if found else 0
        context: dict[str, Any] = {
            "query": query,
            "view": view,
            "errors": query.errors,
            "filter_names": {k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            "views": [
                (name, i18n.translate(text), query.url(view=None if name == "offices" else name))
                for name, text in VIEW_LABELS.items()
            ],
            "facets": facet_views(query, facets, FACET_TITLES, lambda f, t: named(f, t, orgs)),
            "countries": options("country", query.values.get("country")),
            "found_message": found_message(view, total),
            "offices": [
                OfficeRow(o.id, o.name, orgs.get(o.organisation, o.organisation), o.parent_structure)
                for o in found.items
                if isinstance(o, schemas.Office)
            ]
            if found and view == "offices"
            else [],
            "capacities": [
                capacity_view(c, orgs, principal) for c in found.items if isinstance(c, schemas.Capacity)
            ]
            if found
            else [],
            "organisations": organisations,
            "next_url": query.url(cursor=found.next_cursor)
            if found and found.next_cursor and view != "organisations"
            else None,
            "first_url": query.url(),
        }
        if htmx_fragment(request, TARGET):  # 200 with the mistakes in it: htmx swaps no 4xx answer in
            return page("directory/_fragment.html", **context)
        return page("directory/search.html", status_code=422 if query.errors else 200, **context)

    @get("/offices/{office_id:uuid}", guards=[needs("directory:read")])
    async def office_page(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        office_id: FromPath[UUID],
        confirmed: FromQuery[str | None] = None,
    ) -> Template:
        office = await service.office_schema(db, await service.get_office(db, principal, office_id))
        capacities = await service.search_capacities(
            db, principal, service.DirectoryFilter(office_id=office_id), limit=OFFICE_CAPACITIES, cursor=None
        )
        orgs = await organisation_names(db)
        sharing = i18n.translate(SHARING_LABELS[office.sharing])
        if office.share_with:
            sharing += f" ({', '.join(orgs.get(s, s) for s in office.share_with)})"
        return page(
            "directory/office.html",
            office=office,
            organisation=orgs.get(office.organisation, office.organisation),
            staff_size=i18n.format_number(office.staff_size) if office.staff_size is not None else "",
            sharing=sharing,
            capacities=[capacity_view(c, orgs, principal) for c in capacities.items],
            more=capacities.next_cursor is not None,
            confirmed=confirmed == "1",
            updated_on=i18n.format_date(office.updated_at),
        )

    @post("/capacities/{capacity_id:uuid}/confirm", guards=[manages_directory])
    async def confirm(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        capacity_id: FromPath[UUID],
    ) -> Redirect:
        """The capacity is still offered: fresh again for 180 days (audited, the person as the actor)."""
        capacity = await service.confirm_capacity(db, principal, capacity_id)
        return Redirect(
            f"/directory/offices/{capacity.office_id}?confirmed=1#capacity-{capacity.id}", status_code=303
        )
