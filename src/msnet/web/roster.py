"""The roster as pages: search with facets and keyset pages, an expert's page with the audited contact
reveal, a roster manager's forms, the CSV import with its preview, and the export of a search.

Every page calls the roster's services (never the API over HTTP) as the signed-in person, so a person
sees exactly what the API would show a client of their organisation. The forms take the lists in the
CSV import's notation (``term:level; term``), checked column by column as an import's row is, so a
form and an import name the same mistakes the same way."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import Any, Literal, get_args
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from msnet import search
from msnet.api import decode_cursor, encode_cursor
from msnet.auth.principal import Principal
from msnet.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from msnet.organisations.models import Organisation
from msnet.preconditions import etag
from msnet.roster import schemas, service, transfer
from msnet.roster.models import Expert
from msnet.taxonomy import service as taxonomy
from msnet.web import i18n, listing
from msnet.web.i18n import N_
from msnet.web.pages import needs, page

PAGE_SIZE = 20
#: The most records an export of a search holds (stated beside its link).
EXPORT_LIMIT = 1_000
Sort = Literal["relevance", "name"]
SORTS: tuple[Sort, ...] = get_args(Sort)
#: The filters of a search, as the URL names them, and the longest value each takes (the API's).
FILTERS = {
    "q": 200,
    "theme": 60,
    "service_type": 60,
    "language": 3,
    "region": 60,
    "country": 3,
    "organisation": 32,
    "seniority": 10,
    "available_from": 10,
    "available_to": 10,
    "sort": 10,
}
SENIORITIES: tuple[str, ...] = get_args(schemas.Seniority)
SENIORITY_LABELS = {
    "junior": N_("Junior"),
    "mid": N_("Mid-career"),
    "senior": N_("Senior"),
    "eminent": N_("Eminent"),
}
SHARING_LABELS = {
    "private": N_("Private: your organisation only"),
    "restricted": N_("Restricted: the organisations named"),
    "network": N_("Network: every member organisation"),
    "public": N_("Public: anyone"),
}
LEVEL_LABELS = {"working": N_("working"), "advanced": N_("advanced"), "expert": N_("expert")}
REMOTE_ONLY = N_("remote only")
IN_PERSON_ONLY = N_("in person only")
PROFICIENCY_LABELS = {
    "none": N_("none"),
    "basic": N_("basic"),
    "working": N_("working"),
    "fluent": N_("fluent"),
    "native": N_("native"),
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
    "seniority": N_("Seniority"),
    "available_from": N_("Available from"),
    "available_to": N_("Available to"),
    "sort": N_("Sort by"),
    "cursor": N_("Page"),
}
#: The columns of the expert form: the import's, but for the id (the page's address says it).
FORM_COLUMNS = [c for c in transfer.COLUMNS if c != "id"]
#: Where on the form a service's error about a field of the API's body belongs.
FIELD_OF = {"expertise": "themes", "consent": "consent_given_on", "contact": "email"}


# --- labels --------------------------------------------------------------------------------


def place_label(place: str) -> str:
    """A country (two capitals) or a region, by name."""
    return listing.label("country" if len(place) == 2 else "region", place)


# --- searching -----------------------------------------------------------------------------


def parse_query(params: Mapping[str, str]) -> listing.Query:
    """A roster search as its URL says it (``sort`` among the filters: relevance unless ``name``)."""
    return listing.Query.of(
        "/roster",
        params,
        FILTERS,
        choices={"seniority": SENIORITIES, "sort": SORTS},
        dates=("available_from", "available_to"),
    )


def sort_of(query: listing.Query) -> Sort:
    return "name" if query.values.get("sort") == "name" else "relevance"


def expert_filter(query: listing.Query) -> service.ExpertFilter:
    """The service's filter of a search (its sound filters only)."""
    values: dict[str, Any] = {k: v for k, v in query.values.items() if k not in query.errors and k != "sort"}
    for name in ("available_from", "available_to"):
        if name in values:
            values[name] = date.fromisoformat(values[name])
    return service.ExpertFilter(**values)


async def run_search(
    db: AsyncSession, principal: Principal, query: listing.Query, limit: int, *, first_page: bool = False
) -> schemas.ExpertPage:
    """A page of ``query``'s results as ``principal`` may see them, with its facets and total."""
    filters = expert_filter(query)
    cursor = None if first_page else query.cursor
    if sort_of(query) == "relevance":
        return await service.search_experts(db, principal, filters, limit=limit, cursor=cursor)
    return await _by_name(db, principal, filters, limit, cursor)


async def _by_name(
    db: AsyncSession, principal: Principal, filters: service.ExpertFilter, limit: int, cursor: str | None
) -> schemas.ExpertPage:
    """The search sorted by name, in keyset pages on (name, id): the service's search gives the
    facets and the total, and its statement of the matching rows (the same filters, the same rules
    of who sees what) is ordered by name here (see /tmp/notes/w2-needs.md)."""
    counted = await service.search_experts(db, principal, filters, limit=1, cursor=None)
    values = service._values(filters)
    if org_id := await search.organisation_id(db, filters.organisation):
        values["organisation_id"] = org_id
    hits = service._hits(frozenset(values), False)[0].subquery("hits")
    statement: Select[Any] = select(Expert.id, Expert.name).join(hits, hits.c.key == Expert.id)
    if cursor:
        after_name, after_id = decode_cursor(cursor, str, str)
        try:
            after = UUID(after_id)
        except ValueError:
            raise InvalidInput.field("cursor", "is not a cursor this page gave out") from None
        statement = statement.where(
            tuple_(Expert.name, Expert.id) > tuple_(literal(after_name), literal(after))
        )
    statement = statement.order_by(Expert.name, Expert.id).limit(limit + 1)
    rows = (await db.execute(statement, {**values, "org": principal.org_id})).all()
    page = rows[:limit]
    found = search.Found(page=[(r.id, None) for r in page], facets={}, total=0, next_cursor=None)
    experts = await search.records(db, Expert, found, principal)
    return schemas.ExpertPage(
        items=await service._schemas(db, experts, principal.org_id),
        next_cursor=encode_cursor(page[-1].name, str(page[-1].id)) if len(rows) > limit else None,
        total=counted.total,
        facets=counted.facets,
    )


@lru_cache(maxsize=4096)
def _date_text(day: date, language: str) -> str:
    with i18n.use(language):
        return i18n.format_date(day)


def date_text(day: date) -> str:
    """A date in the request's language (Babel's format, kept: a page shows the same few dates)."""
    return _date_text(day, i18n.current())


@cache
def _wider() -> dict[str, frozenset[str]]:
    """Each region's wider regions (Western Africa: Sub-Saharan Africa, Africa)."""
    parent = {r.id: r.parent for r in taxonomy.taxonomy().regions}

    def up(region: str) -> frozenset[str]:
        above = parent.get(region)
        return frozenset() if above is None else frozenset({above}) | up(above)

    return {region: up(region) for region in parent}


def narrowest(regions: list[str]) -> list[str]:
    """The regions none of the others lies in (an expert's regions hold the wider ones too)."""
    wider = _wider()
    covered = {w for r in regions for w in wider.get(r, ())}
    return [r for r in regions if r not in covered]


def period(start: date, end: date) -> str:
    return i18n.gettext("%(start)s to %(end)s", start=date_text(start), end=date_text(end))


def next_window(expert: schemas.Expert, today: date) -> schemas.Window | None:
    """The expert's first window of availability that has not ended."""
    return next((w for w in expert.availability if w.end >= today), None)


def export_rows(experts: list[schemas.Expert], columns: list[str], orgs: dict[str, str], today: date) -> str:
    """The results as CSV: the columns of the results' table (their headings as shown), each cell as
    the table shows it, a cell that a spreadsheet would read as a formula quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in result_rows(experts, orgs, today):
        writer.writerow([transfer.neutralised(cell) for cell in row])
    return out.getvalue()


def result_rows(experts: list[schemas.Expert], orgs: dict[str, str], today: date) -> list[list[str]]:
    """The cells of the results' table, a row an expert (the export writes the same)."""
    rows = []
    for e in experts:
        window = next_window(e, today)
        rows.append(
            [
                e.name,
                orgs.get(e.organisation, e.organisation),
                i18n.translate(SENIORITY_LABELS[e.seniority]) if e.seniority else "",
                ", ".join(listing.label("theme", x.term) for x in e.expertise if x.kind == "theme"),
                ", ".join(listing.label("language", s.code) for s in e.languages),
                ", ".join(listing.label("region", r) for r in narrowest(e.regions)),
                period(window.start, window.end) if window else "",
            ]
        )
    return rows


# --- the expert form -----------------------------------------------------------------------


def form_cells(form: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields as an import's row: text, by column."""
    return {c: str(form.get(c) or "") for c in FORM_COLUMNS}


def expert_cells(expert: schemas.Expert) -> dict[str, str]:
    """An expert as the form shows it: the cells of its export (no contact details)."""
    table = transfer.read_csv(transfer.to_csv([expert]))
    cells = table.rows[0][1]
    return {c: cells.get(c, "") for c in FORM_COLUMNS}


def errors_by_field(exc: InvalidInput | Conflict) -> dict[str, list[str]]:
    """A service's errors by the form's field they are about."""
    found: dict[str, list[str]] = {}
    for e in exc.extra.get("errors") or [{"field": "name", "message": exc.detail}]:
        name = e["field"].split(".", 1)[0]
        found.setdefault(FIELD_OF.get(name, name if name in FORM_COLUMNS else "name"), []).append(
            e["message"]
        )
    return found


async def known_organisations(db: AsyncSession) -> dict[str, UUID]:
    return dict((await db.execute(select(Organisation.slug, Organisation.id))).all())


def checked_row(cells: dict[str, str], known: dict[str, UUID], creating: bool) -> transfer._Plan:
    """The form checked as an import checks a row (every column apart, then sharing, consent and
    contact together): the plan holds the fields, the contact and every mistake."""
    row = transfer._parse(1, cells, FORM_COLUMNS)
    plan = transfer._Plan(row)
    if creating:
        transfer._plan_create(plan, FORM_COLUMNS, cells, known)
    else:
        fields = row.fields
        transfer._check_sharing(row, fields.get("sharing", "network"), fields.get("share_with", []), known)
        contact = schemas.Contact(**{k: cells[k] or None for k in transfer.CONTACT})
        plan.contact = contact if service.has_contact(contact) else None
    return plan


def row_errors(plan: transfer._Plan) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for e in plan.row.errors:
        found.setdefault(e.column, []).append(e.message)
    return found


async def create_from_form(
    db: AsyncSession, principal: Principal, cells: dict[str, str], origin: str
) -> schemas.Expert | dict[str, list[str]]:
    """A new expert from the form, or every mistake in it by field (and nothing written)."""
    plan = checked_row(cells, await known_organisations(db), creating=True)
    if plan.row.errors:
        return row_errors(plan)
    data = schemas.ExpertCreate(**plan.row.fields, contact=plan.contact)
    try:
        async with db.begin_nested():
            made = await service.create_expert(db, principal, data, origin=origin)
    except (InvalidInput, Conflict) as exc:
        return errors_by_field(exc)
    assert isinstance(made, schemas.Expert)
    return made


class Stale(Exception):
    """The expert changed since the form was opened."""


async def update_from_form(
    db: AsyncSession, principal: Principal, expert_id: UUID, cells: dict[str, str], version: str
) -> schemas.Expert | dict[str, list[str]]:
    """The expert changed as the form says (its contact details only when the form gives some), or
    every mistake by field (and nothing written); :class:`Stale` when it changed since the form's
    ``version``."""
    plan = checked_row(cells, await known_organisations(db), creating=False)
    errors = row_errors(plan)
    if not version.isdigit():
        errors.setdefault("version", []).append(i18n.gettext("is not a version this page gave out"))
    if errors:
        return errors
    fields = dict(plan.row.fields)
    if plan.contact is not None:
        fields["contact"] = plan.contact
    data = schemas.ExpertUpdate(**fields)
    try:
        async with db.begin_nested():
            return await service.update_expert(db, principal, expert_id, data, etag(int(version)))
    except PreconditionFailed:
        raise Stale from None
    except (InvalidInput, Conflict) as exc:
        return errors_by_field(exc)


# --- the import ----------------------------------------------------------------------------


@dataclass
class Preview:
    """What an import would do (or did), or every mistake of the file (and nothing written)."""

    report: schemas.ImportReport | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""


async def import_file(
    db: AsyncSession, principal: Principal, text: str, origin: str, *, dry_run: bool
) -> Preview:
    try:
        async with db.begin_nested():
            report = await transfer.import_roster(db, principal, text, origin=origin, dry_run=dry_run)
    except (InvalidInput, Conflict) as exc:
        errors = exc.extra.get("errors") or []
        return Preview(errors=[(e["field"], e["message"]) for e in errors], summary=exc.detail)
    return Preview(report=report)


def decoded_upload(data: bytes) -> str | Preview:
    try:
        return transfer.decoded(data)
    except InvalidInput as exc:
        return Preview(errors=[("body", e["message"]) for e in exc.extra["errors"]], summary=exc.detail)


# --- the pages -----------------------------------------------------------------------------


def found_message(total: int) -> str:
    return i18n.ngettext(
        "%(count)s expert found",
        "%(count)s experts found",
        total,
        count=listing.count_text(total, i18n.current()),
    )


def facet_views(
    query: listing.Query, facets: dict[str, dict[str, int]], orgs: dict[str, str]
) -> list[listing.FacetView]:
    """The facets beside the results (organisations by name, taxonomy terms by label)."""

    def named(facet: str, term: str) -> str:
        return orgs.get(term, term) if facet == "organisation" else listing.label(facet, term)

    return listing.facet_views(query, facets, FACET_TITLES, named)


def result_columns() -> list[str]:
    return [
        i18n.gettext(c)
        for c in (
            N_("Name"),
            N_("Organisation"),
            N_("Seniority"),
            N_("Themes"),
            N_("Languages"),
            N_("Regions"),
            N_("Next available"),
        )
    ]


def _origin(request: Request) -> str:
    return request.app.state.settings.issuer


FORM_GROUPS = [
    (N_("The expert"), ["name", "external_id", "bio", "seniority"]),
    (N_("Expertise and languages"), ["themes", "service_types", "languages"]),
    (
        N_("Experience and availability"),
        ["nationalities", "experience", "availability", "affiliations", "past_processes"],
    ),
    (N_("Consent"), ["consent_given_on", "consent_purpose", "consent_recorded_by"]),
    (N_("Contact details"), ["email", "phone"]),
    (N_("Sharing"), ["sharing", "share_with"]),
]
FIELD_LABELS = {
    "name": N_("Name"),
    "external_id": N_("Your reference"),
    "bio": N_("Biography"),
    "seniority": N_("Seniority"),
    "themes": N_("Themes"),
    "service_types": N_("Service types"),
    "languages": N_("Languages"),
    "nationalities": N_("Nationalities"),
    "experience": N_("Countries and regions worked in"),
    "availability": N_("Availability"),
    "affiliations": N_("Affiliations"),
    "past_processes": N_("Past processes"),
    "consent_given_on": N_("Consent given on"),
    "consent_purpose": N_("Purpose of the consent"),
    "consent_recorded_by": N_("Consent recorded by"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "sharing": N_("Shared with"),
    "share_with": N_("Organisations it is shared with"),
    "version": N_("Version"),
}
FIELD_HINTS = {
    "external_id": N_("Your organisation's own reference, shown to your organisation only."),
    "themes": N_("Theme ids separated by ';', each optionally with a level: ceasefire_security:expert; ddr"),
    "service_types": N_(
        "Service type ids separated by ';', each optionally with a level: process_design:advanced"
    ),
    "languages": N_(
        "Language codes separated by ';', optionally with read/speak/write levels: fr:native/native/fluent; en"
    ),
    "nationalities": N_("Country codes separated by ';': ML; SN"),
    "experience": N_("Country codes and region ids separated by ';': ML; western_africa"),
    "availability": N_(
        "Periods separated by ';', optionally remote or in person only: 2027-01-01..2027-06-30; 2027-09-01..2027-09-30:remote"
    ),
    "affiliations": N_("Separated by ';'"),
    "past_processes": N_("Separated by ';'"),
    "consent_given_on": N_(
        "A date (YYYY-MM-DD). Needed to share contact details with the network or the public."
    ),
    "email": N_("Leave both contact fields empty to keep the current contact details."),
    "share_with": N_("Organisation slugs separated by ';', for sharing 'restricted' only: igad; eu"),
}
INPUT_TYPES = {"consent_given_on": "date", "email": "email", "phone": "tel"}


def form_page(
    heading: str,
    action: str,
    back_url: str,
    cells: dict[str, str],
    *,
    errors: dict[str, list[str]] | None = None,
    version: int | str | None = None,
    expert_id: UUID | None = None,
    stale: bool = False,
    creating: bool,
) -> Template:
    return page(
        "roster/form.html",
        status_code=409 if stale else 422 if errors else 200,
        heading=heading,
        action=action,
        back_url=back_url,
        cells=cells,
        errors=errors or {},
        version=version,
        expert_id=expert_id,
        stale=stale,
        groups=[(i18n.translate(group), names) for group, names in FORM_GROUPS],
        field_labels={k: i18n.translate(v) for k, v in FIELD_LABELS.items()},
        hints={k: i18n.translate(v) for k, v in FIELD_HINTS.items() if k != "email" or not creating},
        input_types=INPUT_TYPES,
        choices={
            "seniority": [("", i18n.gettext("Not stated"))]
            + [(k, i18n.translate(v)) for k, v in SENIORITY_LABELS.items()],
            "sharing": [(k, i18n.translate(v)) for k, v in SHARING_LABELS.items()],
        },
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return form_cells({k: v for k, v in form.items() if isinstance(v, str)})


async def owned_expert(db: AsyncSession, principal: Principal, expert_id: UUID) -> schemas.Expert:
    """One of the person's organisation's experts (404 if they may not see it, 403 if another's)."""
    expert = await service.expert_schema(db, await service.get_expert(db, principal, expert_id), principal)
    if expert.organisation != principal.org_slug:
        raise Forbidden("only the expert's own organisation may change it")
    return expert


class RosterPages(Controller):
    """``/roster``: the search, an expert's page, the forms, the import and the export."""

    path = "/roster"
    include_in_schema = False

    @get("/", guards=[needs("roster:read")])
    async def search_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = parse_query(request.query_params)
        errors = dict(query.errors)
        found: schemas.ExpertPage | None = None
        if not errors:
            try:
                found = await run_search(db, principal, query, PAGE_SIZE)
            except InvalidInput as exc:
                errors = {e["field"]: e["message"] for e in exc.extra["errors"]}
        orgs = await listing.organisation_names(db)
        today = date.today()
        total = found.total if found else 0
        context: dict[str, Any] = {
            "query": query,
            "errors": errors,
            "filter_names": {k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            "page": found,
            "found_message": found_message(total),
            "facets": facet_views(query, found.facets if found else {}, orgs),
            "country_options": listing.options("country", query.values.get("country")),
            "sort": sort_of(query),
            "seniorities": [(k, i18n.translate(v)) for k, v in SENIORITY_LABELS.items()],
            "columns": result_columns(),
            "rows": list(zip(found.items, result_rows(found.items, orgs, today), strict=True))
            if found
            else [],
            "next_url": query.url(cursor=found.next_cursor) if found and found.next_cursor else None,
            "first_url": query.url(),
            "export_url": query.url("/roster/export"),
            "export_note": (
                i18n.gettext(
                    "The export holds the first %(limit)s of these %(count)s experts.",
                    limit=i18n.format_number(EXPORT_LIMIT),
                    count=i18n.format_number(total),
                )
                if total > EXPORT_LIMIT
                else i18n.gettext(
                    "The export holds every expert of this search (%(limit)s at most), with these columns.",
                    limit=i18n.format_number(EXPORT_LIMIT),
                )
            ),
            "can_write": "roster:write" in principal.scopes,
        }
        if listing.htmx_fragment(
            request, "roster-search"
        ):  # 200 with the errors in it: htmx swaps no 4xx answer in
            return page("roster/_fragment.html", **context)
        return page("roster/search.html", status_code=422 if errors else 200, **context)

    @get("/export", guards=[needs("roster:read")])
    async def export(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        """The search's records (from its first, at most :data:`EXPORT_LIMIT`) with the columns of
        its table, as CSV."""
        query = parse_query(request.query_params)
        if query.errors:
            raise InvalidInput(
                "the search has mistakes",
                errors=[{"field": k, "message": v} for k, v in query.errors.items()],
            )
        found = await run_search(db, principal, query, EXPORT_LIMIT, first_page=True)
        text = export_rows(
            found.items,
            result_columns(),
            await listing.organisation_names(db),
            date.today(),
        )
        return Response(
            text.encode(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="roster.csv"',
                "Cache-Control": "no-store",
                "Vary": "Cookie, Accept-Language",
            },
        )

    @get("/new", guards=[needs("roster:write")])
    async def new_form(self) -> Template:
        cells = dict.fromkeys(FORM_COLUMNS, "") | {"sharing": "network"}
        return form_page(i18n.gettext("Add an expert"), "/roster/new", "/roster", cells, creating=True)

    @post("/new", guards=[needs("roster:write")])
    async def create(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        cells = await _form(request)
        made = await create_from_form(db, principal, cells, _origin(request))
        if isinstance(made, dict):
            return form_page(
                i18n.gettext("Add an expert"), "/roster/new", "/roster", cells, errors=made, creating=True
            )
        return Redirect(f"/roster/{made.id}?saved=1", status_code=303)

    @get("/import", guards=[needs("roster:write")])
    async def import_form(self) -> Template:
        return page("roster/import.html", preview=None, csv_text="")

    @post("/import", guards=[needs("roster:write")])
    async def import_preview(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        """Check the file, write nothing: every mistake, or what an import would do."""
        form = await request.form()
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        text = decoded_upload(data)
        if isinstance(text, Preview):
            return page("roster/import.html", status_code=422, preview=text, csv_text="")
        preview = await import_file(db, principal, text, _origin(request), dry_run=True)
        return page(
            "roster/import.html", status_code=422 if preview.errors else 200, preview=preview, csv_text=text
        )

    @post("/import/confirm", guards=[needs("roster:write")])
    async def import_confirm(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        """Import the file previewed (checked again: the roster may have changed since)."""
        form = await request.form()
        text = form.get("csv")
        preview = await import_file(
            db, principal, text if isinstance(text, str) else "", _origin(request), dry_run=False
        )
        return page(
            "roster/import.html",
            status_code=422 if preview.errors else 200,
            preview=preview,
            csv_text=text if preview.errors else "",
        )

    @get("/{expert_id:uuid}", guards=[needs("roster:read")])
    async def expert_page(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
        saved: FromQuery[str | None] = None,
    ) -> Template:
        return await self._expert(db, principal, expert_id, contact=None, saved=bool(saved))

    @post("/{expert_id:uuid}/contact", guards=[needs("roster:read", "roster:contact")])
    async def reveal_contact(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
    ) -> Template:
        """The expert's contact details, read (and audit-logged, the person as the actor) on purpose."""
        contact = await service.read_contact(db, principal, expert_id)
        return await self._expert(db, principal, expert_id, contact=contact, saved=False)

    async def _expert(
        self,
        db: AsyncSession,
        principal: Principal,
        expert_id: FromPath[UUID],
        *,
        contact: schemas.ExpertContact | None,
        saved: bool,
    ) -> Template:
        expert = await service.expert_schema(
            db, await service.get_expert(db, principal, expert_id), principal
        )
        orgs = await listing.organisation_names(db)
        t = i18n.translate
        return page(
            "roster/expert.html",
            expert=expert,
            saved=i18n.gettext("Saved.") if saved else "",
            organisation=orgs.get(expert.organisation, expert.organisation),
            seniority=t(SENIORITY_LABELS[expert.seniority]) if expert.seniority else "",
            sharing=t(SHARING_LABELS[expert.sharing])
            + (f" ({', '.join(orgs.get(s, s) for s in expert.share_with)})" if expert.share_with else ""),
            expertise=[(listing.label(x.kind, x.term), t(LEVEL_LABELS[x.level])) for x in expert.expertise],
            languages=[
                (
                    listing.label("language", s.code),
                    t(PROFICIENCY_LABELS[s.read]),
                    t(PROFICIENCY_LABELS[s.speak]),
                    t(PROFICIENCY_LABELS[s.write]),
                )
                for s in expert.languages
            ],
            nationalities=", ".join(listing.label("country", c) for c in expert.nationalities),
            experience=", ".join(place_label(p) for p in expert.experience),
            windows=[
                period(w.start, w.end)
                + ("" if w.remote and w.in_person else f" ({t(REMOTE_ONLY if w.remote else IN_PERSON_ONLY)})")
                for w in expert.availability
            ],
            contact=contact,
            can_read_contact="roster:contact" in principal.scopes,
            can_edit="roster:write" in principal.scopes and expert.organisation == principal.org_slug,
        )

    @get("/{expert_id:uuid}/edit", guards=[needs("roster:write")])
    async def edit_form(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
    ) -> Template:
        expert = await owned_expert(db, principal, expert_id)
        return form_page(
            i18n.gettext("Edit %(name)s", name=expert.name),
            f"/roster/{expert_id}/edit",
            f"/roster/{expert_id}",
            expert_cells(expert),
            version=expert.version,
            creating=False,
        )

    @post("/{expert_id:uuid}/edit", guards=[needs("roster:write")])
    async def edit(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
    ) -> Template | Redirect:
        await owned_expert(db, principal, expert_id)
        form = await request.form()
        version = form.get("version")
        version = version if isinstance(version, str) else ""
        cells = await _form(request)
        heading = i18n.gettext("Edit %(name)s", name=cells["name"] or "")
        back = f"/roster/{expert_id}"
        try:
            changed = await update_from_form(db, principal, expert_id, cells, version)
        except Stale:
            return form_page(
                heading,
                f"/roster/{expert_id}/edit",
                back,
                cells,
                version=version,
                expert_id=expert_id,
                stale=True,
                creating=False,
            )
        if isinstance(changed, dict):
            return form_page(
                heading,
                f"/roster/{expert_id}/edit",
                back,
                cells,
                errors=changed,
                version=version,
                expert_id=expert_id,
                creating=False,
            )
        return Redirect(f"/roster/{expert_id}?saved=1", status_code=303)
