"""Trainings as pages: the upcoming opportunities as a list and as a month's calendar, with the API's
filters and facets (``/trainings``), a training's page, links to the iCalendar and Atom feeds of a
search, the e-mail digest of a search (``/trainings/subscribe``), and the form a person of an
organisation publishes its trainings with (``/trainings/new``).

Every page calls the training services as the signed-in person (never the API over HTTP), so a
person sees exactly what the API would show a client of their organisation; the forms are checked as
the API checks its bodies (every mistake named beside its field, nothing written)."""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import value_errors
from msnet.auth.principal import Principal
from msnet.errors import Conflict, InvalidInput
from msnet.training import digest, schemas, service
from msnet.web import i18n
from msnet.web.i18n import N_
from msnet.web.listing import Query, choices, facet_views, htmx_fragment, label, options, organisation_names
from msnet.web.pages import needs, page

PAGE_SIZE = 20
#: The most trainings a month's calendar shows (the feeds' limit).
MONTH_LIMIT = 500
TARGET = "trainings-search"
KINDS: tuple[str, ...] = get_args(schemas.TrainingKind)
FORMATS: tuple[str, ...] = get_args(schemas.Format)
AUDIENCES: tuple[str, ...] = get_args(schemas.Audience)
VIEWS = ("list", "month")
#: The filters of a search, as the URL names them, and the longest value each takes (the API's).
FILTERS = {
    "q": 200,
    "organisation": 32,
    "theme": 60,
    "kind": 20,
    "format": 20,
    "country": 3,
    "region": 60,
    "language": 3,
    "audience": 20,
    "start_from": 10,
    "start_to": 10,
    "open": 1,
    "view": 5,
    "month": 7,
}
#: The filters a digest keeps (:class:`msnet.training.schemas.DigestFilters`).
DIGEST_FILTERS = ("q", "organisation", "theme", "kind", "format", "country", "language")
#: The filters of a search a digest does not keep (it tells what is new, whatever its dates).
NOT_IN_DIGESTS = ("region", "audience", "start_from", "start_to", "open")
KIND_LABELS = {
    "course": N_("Course"),
    "workshop": N_("Workshop"),
    "exchange_visit": N_("Exchange visit"),
    "envoy_retreat": N_("Envoy retreat"),
    "peer_exchange": N_("Peer exchange"),
    "webinar": N_("Webinar"),
}
FORMAT_LABELS = {"in_person": N_("In person"), "online": N_("Online"), "hybrid": N_("Hybrid")}
AUDIENCE_LABELS = {
    "member_staff": N_("Staff of member organisations"),
    "envoy_teams": N_("Envoys and their teams"),
    "partners": N_("Partners"),
}
PERIOD_LABELS = {"weekly": N_("Weekly"), "monthly": N_("Monthly")}
SHARING_LABELS = {
    "private": N_("Private: your organisation only"),
    "restricted": N_("Restricted: the organisations named"),
    "network": N_("Network: every member organisation"),
    "public": N_("Public: anyone"),
}
FACET_TITLES = {
    "kind": N_("Kind"),
    "format": N_("Format"),
    "theme": N_("Theme"),
    "language": N_("Language"),
    "region": N_("Region"),
    "country": N_("Country"),
    "audience": N_("Audience"),
    "organisation": N_("Organisation"),
}
FILTER_NAMES = {
    **FACET_TITLES,
    "q": N_("Words"),
    "start_from": N_("Starting from"),
    "start_to": N_("Starting until"),
    "open": N_("Still taking applications"),
    "view": N_("Show"),
    "month": N_("Month"),
    "cursor": N_("Page"),
}
FIELD_LABELS = {
    "title": N_("Title"),
    "kind": N_("Kind"),
    "format": N_("Format"),
    "start": N_("Starts"),
    "end": N_("Ends"),
    "time_zone": N_("Time zone"),
    "description": N_("Description"),
    "themes": N_("Themes"),
    "city": N_("City"),
    "country": N_("Country"),
    "application_deadline": N_("Deadline for applications"),
    "seats": N_("Seats"),
    "languages": N_("Languages"),
    "audience": N_("Audience"),
    "cost": N_("Cost"),
    "apply_url": N_("Where to apply (web address)"),
    "apply_email": N_("Where to apply (e-mail)"),
    "sharing": N_("Shared with"),
    "share_with": N_("Organisations it is shared with"),
}
FIELD_HINTS = {
    "start": N_("In the time zone below."),
    "time_zone": N_(
        "Where it takes place, as the tz database names it: Africa/Addis_Ababa, Europe/Brussels."
    ),
    "languages": N_("Language codes separated by spaces: en fr ar"),
    "share_with": N_("Organisation slugs separated by spaces, for sharing 'restricted' only: igad eu"),
    "apply_url": N_("A web address, an e-mail or both."),
}
FORM_FIELDS = tuple(FIELD_LABELS)
TEXT_FIELDS = ("title", "description", "city", "cost")


def parse(params: Mapping[str, str]) -> Query:
    return Query.of(
        "/trainings",
        params,
        FILTERS,
        choices={
            "kind": KINDS,
            "format": FORMATS,
            "audience": AUDIENCES,
            "open": ("1",),
            "view": VIEWS,
        },
        dates=("start_from", "start_to"),
    )


def named(facet: str, term: str, orgs: dict[str, str]) -> str:
    """A facet's term by name in the reader's language."""
    if facet == "organisation":
        return orgs.get(term, term)
    for kind, labels in (("kind", KIND_LABELS), ("format", FORMAT_LABELS), ("audience", AUDIENCE_LABELS)):
        if facet == kind:
            return i18n.translate(labels[term]) if term in labels else term
    return label(facet, term)


def filters_of(query: Query, today: date) -> service.TrainingFilter:
    """The search's filters: upcoming ones (from today) unless it says from when."""
    values = query.values
    start_from = date.fromisoformat(values["start_from"]) if "start_from" in values else today
    return service.TrainingFilter(
        q=values.get("q"),
        organisation=values.get("organisation"),
        theme=values.get("theme"),
        kind=values.get("kind"),
        format=values.get("format"),
        country=values.get("country"),
        region=values.get("region"),
        language=values.get("language"),
        audience=values.get("audience"),
        start_from=start_from,
        start_to=date.fromisoformat(values["start_to"]) if "start_to" in values else None,
        open=values.get("open") == "1",
    )


def month_of(query: Query, today: date) -> date:
    """The first day of the month the calendar shows (this month unless the search says)."""
    text = query.values.get("month")
    if text is None:
        return today.replace(day=1)
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        query.errors["month"] = i18n.gettext("is not a month (YYYY-MM)")
        return today.replace(day=1)
    return date(int(match.group(1)), int(match.group(2)), 1)


def local(at: datetime, zone: str) -> datetime:
    try:
        return at.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return at


def when(training: schemas.Training) -> str:
    """When it takes place, in its own time zone."""
    start, end = local(training.start, training.time_zone), local(training.end, training.time_zone)
    if start.date() == end.date():
        return i18n.format_date(start.date())
    return i18n.gettext(
        "%(start)s to %(end)s", start=i18n.format_date(start.date()), end=i18n.format_date(end.date())
    )


def where(training: schemas.Training) -> str:
    place = ", ".join(
        p for p in (training.city, label("country", training.country) if training.country else None) if p
    )
    kind = i18n.translate(FORMAT_LABELS[training.format])
    return f"{place} ({kind})" if place else kind


def training_row(training: schemas.Training, orgs: dict[str, str]) -> dict[str, Any]:
    return {
        "id": training.id,
        "title": training.title,
        "organisation": orgs.get(training.organisation, training.organisation),
        "kind": i18n.translate(KIND_LABELS[training.kind]),
        "when": when(training),
        "where": where(training),
        "deadline": i18n.format_date(local(training.application_deadline, training.time_zone).date())
        if training.application_deadline
        else "",
    }


def feed_query(query: Query) -> str:
    """The search as the feeds' query string (they take the API's filters)."""
    params = {k: v for k, v in query.values.items() if k in FILTERS and k not in ("view", "month", "open")}
    if query.values.get("open"):
        params["open"] = "true"
    return urlencode(params)


def month_weeks(
    first: date, trainings: list[schemas.Training], orgs: dict[str, str]
) -> list[list[dict[str, Any]]]:
    """The month's weeks (Monday first), each day with the trainings starting on it (in their own
    time zone); days of the months around it are empty cells."""
    starting: dict[date, list[dict[str, Any]]] = {}
    for training in trainings:
        starting.setdefault(local(training.start, training.time_zone).date(), []).append(
            training_row(training, orgs)
        )
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {
                    "day": day,
                    "in_month": day.month == first.month,
                    "label": i18n.format_date(day, "full"),
                    "trainings": starting.get(day, []) if day.month == first.month else [],
                }
                for day in week
            ]
        )
    return weeks


def weekday_names() -> list[str]:
    monday = date(2024, 1, 1)
    return [i18n.format_date(monday + timedelta(days=n), "EEEE") for n in range(7)]


def found_message(total: int) -> str:
    return i18n.ngettext(
        "%(count)s training found", "%(count)s trainings found", total, count=i18n.format_number(total)
    )


# --- the forms -----------------------------------------------------------------------------


def _no_hook(tp: Any, value: Any) -> Any:
    raise NotImplementedError


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,;]+", text.strip()) if w]


def _instant(text: str, zone: ZoneInfo) -> str | None:
    """A form's local date and time (``YYYY-MM-DDTHH:MM``) in ``zone``, as RFC 3339; None if it is not one."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is not None:
        return None
    return at.replace(tzinfo=zone).isoformat()


def training_body(
    form: Mapping[str, Any], lists: Mapping[str, list[str]]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The form as the API's body, and the mistakes found in reading it (dates and times, the time
    zone); the body is then checked as the API checks it."""
    errors: list[tuple[str, str]] = []
    text = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    zone_name = text["time_zone"]
    try:
        zone = ZoneInfo(service.time_zone(zone_name)) if zone_name else UTC
    except InvalidInput as exc:
        errors += [(e["field"], e["message"]) for e in exc.extra["errors"]]
        zone = UTC
    body: dict[str, Any] = {name: text[name] for name in TEXT_FIELDS if text[name] or name != "city"}
    for name in ("kind", "format", "time_zone", "sharing"):
        if text[name]:
            body[name] = text[name]
    for name in ("start", "end", "application_deadline"):
        if text[name]:
            instant = _instant(text[name], zone)
            if instant is None:
                errors.append((name, i18n.gettext("is not a date and time")))
            else:
                body[name] = instant
    body["country"] = text["country"] or None
    body["seats"] = text["seats"] or None
    body["apply_url"] = text["apply_url"] or None
    body["apply_email"] = text["apply_email"] or None
    body["themes"] = list(lists.get("themes", []))
    body["audience"] = list(lists.get("audience", []))
    body["languages"] = _words(text["languages"])
    body["share_with"] = _words(text["share_with"])
    return body, errors


def by_field(errors: list[tuple[str, str]], fields: tuple[str, ...]) -> dict[str, list[str]]:
    """Mistakes by the form's field they are about (a list item's by its list; the rest on the
    first field)."""
    found: dict[str, list[str]] = {}
    for name, message in errors:
        field = name.split(".", 1)[0]
        found.setdefault(field if field in fields else fields[0], []).append(message)
    return found


async def publish(
    db: AsyncSession,
    principal: Principal,
    form: Mapping[str, Any],
    lists: Mapping[str, list[str]],
    origin: str,
) -> schemas.Training | dict[str, list[str]]:
    """A new training from the form, or every mistake in it by field (and nothing written)."""
    body, errors = training_body(form, lists)
    errors += [
        e
        for e in value_errors(body, schemas.TrainingCreate, [], _no_hook)
        if e[0].split(".")[0] not in dict(errors)
    ]
    if errors:
        return by_field(errors, FORM_FIELDS)
    data = msgspec.convert(body, schemas.TrainingCreate, strict=False)
    try:
        async with db.begin_nested():
            made = await service.create_training(db, principal, data, origin=origin)
    except (InvalidInput, Conflict) as exc:
        return by_field(
            [
                (e["field"], e["message"])
                for e in exc.extra.get("errors") or [{"field": "title", "message": exc.detail}]
            ],
            FORM_FIELDS,
        )
    assert isinstance(made, schemas.Training)
    return made


async def subscribe(
    db: AsyncSession, principal: Principal, form: Mapping[str, Any]
) -> schemas.Subscription | dict[str, list[str]]:
    """A digest subscription from the form, or every mistake by field (and nothing written)."""
    filters: dict[str, Any] = {
        name: str(form.get(name)).strip() for name in DIGEST_FILTERS if str(form.get(name) or "").strip()
    }
    filters["publications"] = form.get("publications") == "1"
    body = {
        "email": str(form.get("email") or "").strip(),
        "period": str(form.get("period") or "").strip(),
        "filters": filters,
    }
    fields = ("email", "period", "filters")
    errors = value_errors(body, schemas.SubscriptionCreate, [], _no_hook)
    if errors:
        return by_field(errors, fields)
    data = msgspec.convert(body, schemas.SubscriptionCreate, strict=False)
    try:
        async with db.begin_nested():
            made = await digest.create_subscription(db, principal, data)
    except InvalidInput as exc:
        return by_field([(e["field"], e["message"]) for e in exc.extra["errors"]], fields)
    except Conflict as exc:
        return {"email": [exc.detail]}
    assert isinstance(made, schemas.Subscription)
    return made


def _options(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(k, i18n.translate(v)) for k, v in labels.items()]


def form_page(
    values: Mapping[str, str], lists: Mapping[str, list[str]], errors: dict[str, list[str]]
) -> Template:
    return page(
        "trainings/form.html",
        status_code=422 if errors else 200,
        values={name: str(values.get(name) or "") for name in FORM_FIELDS},
        lists={"themes": list(lists.get("themes", [])), "audience": list(lists.get("audience", []))},
        errors=errors,
        field_labels={k: i18n.translate(v) for k, v in FIELD_LABELS.items()},
        hints={k: i18n.translate(v) for k, v in FIELD_HINTS.items()},
        kinds=_options(KIND_LABELS),
        formats=_options(FORMAT_LABELS),
        audiences=_options(AUDIENCE_LABELS),
        sharings=_options(SHARING_LABELS),
        themes=choices("theme"),
        countries=options("country", str(values.get("country") or "")),
    )


def subscribe_page(
    query: Query, values: Mapping[str, str], errors: dict[str, list[str]], *, done: bool = False
) -> Template:
    kept = {k: v for k, v in query.values.items() if k in DIGEST_FILTERS}
    return page(
        "trainings/subscribe.html",
        status_code=422 if errors else 200,
        kept=kept,
        kept_names=[
            (i18n.translate(FILTER_NAMES[k]), v if k == "q" else named(k, v, {})) for k, v in kept.items()
        ],
        ignored=[i18n.translate(FILTER_NAMES[k]) for k in query.values if k in NOT_IN_DIGESTS],
        values=values,
        errors=errors,
        periods=_options(PERIOD_LABELS),
        field_labels={
            "email": i18n.gettext("E-mail"),
            "period": i18n.gettext("How often"),
            "filters": i18n.gettext("The search"),
        },
        done=done,
        back_url=query.url(),
    )


class TrainingPages(Controller):
    """``/trainings``: the list and the month, a training's page, the digest and the publishing form."""

    path = "/trainings"
    include_in_schema = False

    @get("/", guards=[needs("training:read")])
    async def search_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = parse(request.query_params)
        today = datetime.now(UTC).date()
        view = query.values.get("view", "list")
        first = month_of(query, today)
        found: schemas.TrainingPage | None = None
        if not query.errors:
            filters = filters_of(query, today)
            if view == "month":
                last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
                filters = dataclasses.replace(filters, start_from=first, start_to=last)
            try:
                found = await service.search_trainings(
                    db,
                    principal,
                    filters,
                    limit=MONTH_LIMIT if view == "month" else PAGE_SIZE,
                    cursor=None if view == "month" else query.cursor,
                )
            except InvalidInput as exc:
                query.errors_from(exc)
        orgs = await organisation_names(db)
        total = found.total if found else 0
        feed = feed_query(query)
        context: dict[str, Any] = {
            "query": query,
            "view": view,
            "errors": query.errors,
            "filter_names": {k: i18n.translate(v) for k, v in FILTER_NAMES.items()},
            "views": [
                ("list", i18n.gettext("List"), query.url(view=None, month=None)),
                ("month", i18n.gettext("Month"), query.url(view="month")),
            ],
            "facets": facet_views(
                query, found.facets if found else {}, FACET_TITLES, lambda f, t: named(f, t, orgs)
            ),
            "countries": options("country", query.values.get("country")),
            "kinds": _options(KIND_LABELS),
            "formats": _options(FORMAT_LABELS),
            "found_message": found_message(total),
            "rows": [training_row(t, orgs) for t in found.items] if found and view == "list" else [],
            "weeks": month_weeks(first, found.items if found else [], orgs) if view == "month" else [],
            "weekdays": weekday_names(),
            "month_title": i18n.format_date(first, "MMMM y"),
            "previous_month": query.url(view="month", month=(first - timedelta(days=1)).strftime("%Y-%m")),
            "next_month": query.url(
                view="month", month=(first + timedelta(days=32)).replace(day=1).strftime("%Y-%m")
            ),
            "next_url": query.url(cursor=found.next_cursor)
            if found and found.next_cursor and view == "list"
            else None,
            "first_url": query.url(),
            "calendar_url": "/v1/trainings.ics" + (f"?{feed}" if feed else ""),
            "atom_url": "/v1/trainings.atom" + (f"?{feed}" if feed else ""),
            "subscribe_url": query.url("/trainings/subscribe", view=None, month=None),
            "can_publish": "training:write" in principal.scopes,
            "upcoming_note": "start_from" not in query.values and view == "list",
        }
        if htmx_fragment(request, TARGET):  # 200 with the mistakes in it: htmx swaps no 4xx answer in
            return page("trainings/_fragment.html", **context)
        return page("trainings/search.html", status_code=422 if query.errors else 200, **context)

    @get("/{training_id:uuid}", guards=[needs("training:read")])
    async def training_page(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        training_id: FromPath[UUID],
        published: FromQuery[str | None] = None,
    ) -> Template:
        training = await service.training_schema(db, await service.get_training(db, principal, training_id))
        orgs = await organisation_names(db)
        sharing = i18n.translate(SHARING_LABELS[training.sharing])
        if training.share_with:
            sharing += f" ({', '.join(orgs.get(s, s) for s in training.share_with)})"
        start, end = local(training.start, training.time_zone), local(training.end, training.time_zone)
        return page(
            "trainings/training.html",
            training=training,
            published=published == "1",
            organisation=orgs.get(training.organisation, training.organisation),
            kind=i18n.translate(KIND_LABELS[training.kind]),
            where=where(training),
            starts=i18n.format_datetime(start, "medium"),
            ends=i18n.format_datetime(end, "medium"),
            deadline=i18n.format_datetime(local(training.application_deadline, training.time_zone), "medium")
            if training.application_deadline
            else "",
            themes=", ".join(label("theme", t) for t in training.themes),
            languages=", ".join(label("language", c) for c in training.languages),
            audience=", ".join(i18n.translate(AUDIENCE_LABELS[a]) for a in training.audience),
            seats=i18n.format_number(training.seats) if training.seats is not None else "",
            sharing=sharing,
        )

    @get("/new", guards=[needs("training:write")])
    async def new_form(self) -> Template:
        return form_page({"sharing": "network"}, {}, {})

    @post("/new", guards=[needs("training:write")])
    async def create(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        lists = {
            name: [v for v in form.getall(name, []) if isinstance(v, str)] for name in ("themes", "audience")
        }
        made = await publish(db, principal, values, lists, request.app.state.settings.issuer)
        if isinstance(made, dict):
            return form_page(values, lists, made)
        return Redirect(f"/trainings/{made.id}?published=1", status_code=303)

    @get("/subscribe", guards=[needs("training:write")])
    async def subscribe_form(self, request: Request) -> Template:
        person = request.scope["state"]["signed_in"]
        query = parse(request.query_params)
        return subscribe_page(
            query,
            {"email": person.person.email or "", "period": "weekly", "publications": "1"},
            {},
            done=request.query_params.get("done") == "1",
        )

    @post("/subscribe", guards=[needs("training:write")])
    async def create_subscription(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        made = await subscribe(db, principal, values)
        query = parse({k: v for k, v in values.items() if k in DIGEST_FILTERS})
        if isinstance(made, dict):
            return subscribe_page(query, values, made)
        return Redirect(query.url("/trainings/subscribe", done="1"), status_code=303)
