"""Support requests as pages: asking for support (``/requests/new``), a request's page with its
matches, lifecycle actions, offers side by side and timeline (``/requests/{id}``), answering
(``/inbox``), the organisation's requests (``/requests``), and what the home page says of them.

Every page calls the requests' services (never the API over HTTP) as the signed-in person, so a
person sees exactly what the API would show a client of their organisation, and the audit log names
the person. Each action form carries the version of the request it was shown at: when someone else
changed the request meanwhile, nothing is done and the page shows the request as it is now and what
changed (as ``If-Match`` → 412 does in the API). A creating form carries a key of its own (the API's
``Idempotency-Key``), so a form sent twice makes one request or one response."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from babel.dates import format_timedelta
from cryptography.fernet import Fernet, InvalidToken
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.keys import secret_box
from msnet.auth.principal import Principal
from msnet.directory.models import Capacity, Office
from msnet.directory.service import STALE_AFTER
from msnet.errors import Conflict, InvalidInput, NotFound
from msnet.idempotency.service import Replayed
from msnet.organisations.models import Organisation
from msnet.overlaps import service as overlaps
from msnet.processes import schemas as process_schemas
from msnet.processes import service as processes
from msnet.requests import responses, schemas, service
from msnet.requests.limits import limit_bursts
from msnet.requests.models import RequestResponse, SupportRequest
from msnet.roster import service as roster
from msnet.roster.models import Expert
from msnet.settings import Settings
from msnet.sharing import visible
from msnet.web import csrf, i18n, listing, sessions
from msnet.web.i18n import N_
from msnet.web.pages import needs, page

PAGE_SIZE = 20
#: What the home page lists of each kind (its count links to the whole list).
HOME_ITEMS = 5
#: The processes a search of the form lists, and the experts an offer may choose from.
PROCESS_CHOICES = 10
OFFER_EXPERTS = 50
#: The most experts an offer proposes (the API's limit).
OFFER_MOST = 20
#: The cookie that holds a new request's input, sealed, while its author signs in again: only the
#: form's own address receives it, for an hour at most.
KEPT_COOKIE = "msnet_kept_request"
KEPT_PATH = "/requests/new"
KEPT_SECONDS = 3600
#: The longest sealed input the cookie holds (a browser keeps 4,096 bytes of a cookie, its name and
#: attributes included): the fields beyond it are left out, to be typed again.
KEPT_BYTES = 3800
STATE_LABELS = {
    "draft": N_("Draft"),
    "submitted": N_("Submitted"),
    "on-hold": N_("On hold"),
    "received": N_("Answered"),
    "accepted": N_("Offer accepted"),
    "rejected": N_("Declined by every office"),
    "in-progress": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Withdrawn"),
}
URGENCY_LABELS = {
    "routine": N_("Routine"),
    "urgent": N_("Urgent (within 14 days)"),
    "asap": N_("As soon as possible (within 3 days)"),
}
MANDATE_LABELS = {
    "security_council_resolution": N_("Security Council resolution"),
    "general_assembly_resolution": N_("General Assembly resolution"),
    "regional_council_decision": N_("Regional council decision"),
    "organisation_decision": N_("Decision of the organisation"),
    "host_state_request": N_("Request of the host state"),
    "parties_consent": N_("Consent of the parties"),
    "other": N_("Other"),
}
ROUTE_LABELS = {
    "named": N_("Only the offices I choose from the matches"),
    "best_matches": N_("Let msnet send it to the best matches (up to three offices scoring 50 or more)"),
}
SHARING_LABELS = {
    "private": N_("Private: your organisation and the offices asked"),
    "restricted": N_("Restricted: also the organisations named"),
}
LEVEL_LABELS = {"national": N_("National"), "subnational": N_("Subnational"), "local": N_("Local")}
MODALITY_LABELS = {"remote": N_("Remotely"), "in_person": N_("In person"), "both": N_("Both")}
RESPONSE_LABELS = {
    "open": N_("Not decided yet"),
    "accepted": N_("Accepted"),
    "not_selected": N_("Not selected"),
}
DIMENSION_LABELS = {
    "service_type": N_("Service type"),
    "themes": N_("Themes"),
    "coverage": N_("Coverage"),
    "language": N_("Language"),
    "timing": N_("Timing"),
    "load": N_("Load"),
    "freshness": N_("Freshness"),
    "availability": N_("Availability"),
}
ROLE_FILTERS = {"requester": N_("Made by my organisation"), "addressee": N_("Sent to my organisation")}
FIELD_LABELS = {
    "process_id": N_("Process"),
    "process_q": N_("Find a process"),
    "new_process_name": N_("Name of the new process"),
    "new_process_countries": N_("Countries of the new process"),
    "new_process_level": N_("Level of the new process"),
    "office_id": N_("Your office that asks"),
    "title": N_("Title"),
    "description": N_("What is needed"),
    "service_types": N_("Service types"),
    "themes": N_("Themes"),
    "start": N_("From"),
    "end": N_("To"),
    "languages": N_("Languages"),
    "urgency": N_("Urgency"),
    "mandate_type": N_("Mandate"),
    "mandate_reference": N_("Reference of the mandate"),
    "route": N_("Where it goes"),
    "exclude_own_organisation": N_("Leave my organisation's offices and experts out of the matches"),
    "sharing": N_("Shared with"),
    "share_with": N_("Organisations it is shared with"),
    "addressees": N_("Offices to ask"),
    "kind": N_("Answer"),
    "experts": N_("Experts proposed"),
    "note": N_("Note"),
    "reason": N_("Reason"),
    "delivered": N_("Was the support delivered?"),
    "modality": N_("How"),
    "form_key": N_("Form"),
    "version": N_("Version"),
}
#: Where a service's error about a field of the API's body belongs on the form.
FIELD_OF = {"period": "start", "mandate": "mandate_type", "Idempotency-Key": "form_key"}
#: The new process's fields, by the field of the process's API body.
PROCESS_FIELD_OF = {
    "name": "new_process_name",
    "countries": "new_process_countries",
    "level": "new_process_level",
}
#: The form's fields that hold several values.
LISTS = ("service_types", "themes")
TEXTS = (
    "process_id",
    "process_q",
    "new_process_name",
    "new_process_countries",
    "new_process_level",
    "office_id",
    "title",
    "description",
    "start",
    "end",
    "languages",
    "urgency",
    "mandate_type",
    "mandate_reference",
    "route",
    "exclude_own_organisation",
    "sharing",
    "share_with",
)
#: The longest value of each text field (the API's limits; a longer one is refused, not cut).
LONGEST = {
    "title": 200,
    "description": 4000,
    "mandate_reference": 300,
    "new_process_name": 200,
    "process_q": 200,
}
#: A lifecycle action of the requester's: the state it moves the request to.
TARGETS = {
    "submit": "submitted",
    "hold": "on-hold",
    "start": "in-progress",
    "close": "completed",
    "withdraw": "cancelled",
}


def label(labels: Mapping[str, str], value: str) -> str:
    return i18n.translate(labels[value]) if value in labels else value


def choices(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(k, i18n.translate(v)) for k, v in labels.items()]


def field_labels() -> dict[str, str]:
    return {k: i18n.translate(v) for k, v in FIELD_LABELS.items()}


def waited(since: datetime | None, now: datetime) -> str:
    """How long since ``since``, in the reader's language ("3 days")."""
    if since is None:
        return ""
    return format_timedelta(now - since, threshold=1.0, locale=i18n.current())


def when(moment: datetime | None) -> str:
    return i18n.format_datetime(moment, "short") if moment else ""


def period_text(period: schemas.Period | None) -> str:
    if period is None:
        return ""
    return i18n.gettext(
        "%(start)s to %(end)s", start=i18n.format_date(period.start), end=i18n.format_date(period.end)
    )


def split(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]


def uuid_or_none(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def errors_from(
    exc: InvalidInput | Conflict, fields: Mapping[str, str], known: tuple[str, ...]
) -> dict[str, list[str]]:
    """A service's mistakes by the form's field they are about (the first field when none fits)."""
    found: dict[str, list[str]] = {}
    for e in exc.extra.get("errors") or [{"field": known[0], "message": exc.detail}]:
        name = e["field"].split(".", 1)[0]
        if e["field"] == "period.end":
            name = "end"
        name = fields.get(name, name)
        found.setdefault(name if name in known else known[0], []).append(e["message"])
    return found


# --- the form of a new request --------------------------------------------------------------


@dataclass
class Draft:
    """The form of a new request, as sent (text, by field)."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    form_key: str = ""

    @classmethod
    def of(cls, params: FormMultiDict | Mapping[str, Any]) -> Draft:
        getall = getattr(params, "getall", None)
        draft = cls(
            values={name: str(params.get(name) or "").strip() for name in TEXTS},
            lists={name: [str(v) for v in (getall(name, []) if getall else [])] for name in LISTS},
            form_key=str(params.get("form_key") or "")[:100],
        )
        draft.values["urgency"] = draft.values["urgency"] or "routine"
        draft.values["mandate_type"] = draft.values["mandate_type"] or "organisation_decision"
        draft.values["route"] = draft.values["route"] or "named"
        draft.values["sharing"] = draft.values["sharing"] or "private"
        draft.values["new_process_level"] = draft.values["new_process_level"] or "national"
        return draft

    def fields(self) -> list[tuple[str, list[str]]]:
        """The fields typed in, in the form's order, each with its values."""
        found = [(k, [v]) for k, v in self.values.items() if v]
        return found + [(k, vs) for k, vs in self.lists.items() if vs]

    def checked(self) -> dict[str, list[str]]:
        """The form's own mistakes (what the services would refuse before they look anything up)."""
        errors: dict[str, list[str]] = {}
        v = self.values

        def add(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        for name, longest in LONGEST.items():
            if len(v[name]) > longest:
                add(name, i18n.gettext("is longer than %(n)s characters", n=longest))
        if len(v["title"]) < 2:
            add("title", i18n.gettext("is required"))
        if not v["process_id"] and not v["new_process_name"]:
            add("process_id", i18n.gettext("choose a process, or register one below"))
        elif v["process_id"] and uuid_or_none(v["process_id"]) is None:
            add("process_id", i18n.gettext("is not one of the choices"))
        if not v["process_id"] and v["new_process_name"] and not split(v["new_process_countries"]):
            add("new_process_countries", i18n.gettext("name at least one country"))
        if uuid_or_none(v["office_id"]) is None:
            add("office_id", i18n.gettext("choose one of your offices"))
        if not self.lists["service_types"]:
            add("service_types", i18n.gettext("choose at least one"))
        days = {}
        for name in ("start", "end"):
            try:
                days[name] = date.fromisoformat(v[name])
            except ValueError:
                add(name, i18n.gettext("is not a date (YYYY-MM-DD)"))
        if len(days) == 2 and days["end"] < days["start"]:
            add("end", i18n.gettext("is before the start"))
        for name, labels in (
            ("urgency", URGENCY_LABELS),
            ("mandate_type", MANDATE_LABELS),
            ("route", ROUTE_LABELS),
            ("sharing", SHARING_LABELS),
            ("new_process_level", LEVEL_LABELS),
        ):
            if v[name] not in labels:
                add(name, i18n.gettext("is not one of the choices"))
        if v["sharing"] == "private" and split(v["share_with"]):
            add("share_with", i18n.gettext("only a restricted request is shared with organisations"))
        return errors

    def shaped(self) -> dict[str, list[str]]:
        """The mistakes of shape the API's bodies refuse (a code or term not written as one), by field."""
        errors: dict[str, list[str]] = {}
        bodies: list[tuple[Any, dict[str, str]]] = [(lambda: self.create(UUID(int=0)), FIELD_OF)]
        if not self.values["process_id"]:
            bodies.append((self.process, PROCESS_FIELD_OF))
        for body, fields in bodies:
            try:
                body()
            except msgspec.ValidationError as exc:
                at = re.search(r"at `\$\.(\w+)", str(exc))
                name = fields.get(at.group(1), at.group(1)) if at else "title"
                errors.setdefault(name, []).append(i18n.gettext("is not written as expected"))
        return errors

    def create(self, process_id: UUID) -> schemas.RequestCreate:
        v = self.values
        return msgspec.convert(
            {
                "process_id": process_id,
                "office_id": v["office_id"],
                "title": v["title"],
                "description": v["description"],
                "service_types": self.lists["service_types"],
                "themes": self.lists["themes"],
                "period": {"start": v["start"], "end": v["end"]},
                "urgency": v["urgency"],
                "languages": [code.lower() for code in split(v["languages"])],
                "mandate": {"type": v["mandate_type"], "reference": v["mandate_reference"]},
                "route": v["route"],
                "exclude_own_organisation": v["exclude_own_organisation"] == "1",
                "sharing": v["sharing"],
                "share_with": split(v["share_with"]) if v["sharing"] == "restricted" else [],
            },
            schemas.RequestCreate,
        )

    def process(self) -> process_schemas.ProcessCreate:
        v = self.values
        return msgspec.convert(
            {
                "name": v["new_process_name"],
                "countries": [c.upper() for c in split(v["new_process_countries"])],
                "level": v["new_process_level"],
            },
            process_schemas.ProcessCreate,
        )


def _made_id(made: Any) -> UUID:
    """The id of what a service made, or of what it made before under the same key (a replay)."""
    if isinstance(made, Replayed):
        return UUID(json.loads(made.body)["id"])
    return made.id


async def create_from_form(
    db: AsyncSession, principal: Principal, draft: Draft, origin: str
) -> UUID | dict[str, list[str]]:
    """A new draft request (and the process registered with it), or every mistake by field and
    nothing written. The form's key makes a form sent twice make one request."""
    errors = draft.checked() or draft.shaped()
    if errors:
        return errors
    key = draft.form_key or None
    try:
        async with db.begin_nested():
            process_id = uuid_or_none(draft.values["process_id"])
            if process_id is None:
                try:
                    made = await processes.create_process(
                        db,
                        principal,
                        draft.process(),
                        origin=origin,
                        idempotency_key=key and f"{key}.process",
                    )
                except InvalidInput as exc:
                    return errors_from(exc, PROCESS_FIELD_OF, tuple(PROCESS_FIELD_OF.values()))
                process_id = _made_id(made)
            return _made_id(
                await service.create_request(
                    db, principal, draft.create(process_id), origin=origin, idempotency_key=key
                )
            )
    except InvalidInput as exc:
        return errors_from(exc, FIELD_OF, ("title", *TEXTS, *LISTS, "form_key"))


async def own_offices(db: AsyncSession, principal: Principal) -> list[tuple[UUID, str]]:
    rows = await db.execute(
        select(Office.id, Office.name).where(Office.organisation_id == principal.org_id).order_by(Office.name)
    )
    return [(r.id, r.name) for r in rows]


async def process_choices(db: AsyncSession, principal: Principal, draft: Draft) -> list[dict[str, Any]]:
    """The processes the form offers: those its search finds (each with the ids merged into it),
    and the one chosen."""
    found: list[process_schemas.Process] = []
    if draft.values["process_q"]:
        found = (
            await processes.search_processes(
                db,
                principal,
                processes.ProcessFilter(q=draft.values["process_q"]),
                limit=PROCESS_CHOICES,
                cursor=None,
            )
        ).items
    chosen = uuid_or_none(draft.values["process_id"])
    if chosen and chosen not in {p.id for p in found}:
        try:
            found.insert(
                0, await processes.process_schema(db, await processes.resolve(db, principal, chosen))
            )
        except NotFound:  # merged into one the reader may not see, say: not offered
            draft.values["process_id"] = ""
    return [
        {
            "id": str(p.id),
            "name": p.name,
            "places": ", ".join(
                [listing.label("country", c) for c in p.countries]
                + ([listing.label("region", p.region)] if p.region else [])
            ),
            "level": label(LEVEL_LABELS, p.level),
            "aliases": len(p.aliases),
        }
        for p in found
    ]


async def form_page(
    db: AsyncSession,
    principal: Principal,
    draft: Draft,
    errors: dict[str, list[str]],
    *,
    kept: str = "",
    retype: list[str] | None = None,
) -> Template:
    if not draft.form_key:
        draft.form_key = secrets.token_urlsafe(16)
    return page(
        "requests/new.html",
        status_code=422 if errors else 200,
        draft=draft,
        errors=errors,
        kept=kept,
        retype=retype or [],
        labels=field_labels(),
        offices=await own_offices(db, principal),
        processes=await process_choices(db, principal, draft),
        service_types=listing.choices("service_type"),
        themes=listing.choices("theme"),
        urgencies=choices(URGENCY_LABELS),
        mandates=choices(MANDATE_LABELS),
        routes=choices(ROUTE_LABELS),
        sharings=choices(SHARING_LABELS),
        levels=choices(LEVEL_LABELS),
    )


class Kept(msgspec.Struct, frozen=True):
    """A new request's input kept while its author signs in again: for the ended session's
    organisation (None when the browser no longer named that session), the fields that fitted, and
    those left out."""

    organisation: UUID | None
    form_key: str
    fields: list[tuple[str, list[str]]]
    left_out: list[str]


def kept_box(settings: Settings) -> Fernet:
    return secret_box(settings.secret_key or "", b"web-kept-request-input")


def kept_cookie(settings: Settings) -> str:
    return f"__Secure-{KEPT_COOKIE}" if sessions.secure(settings) else KEPT_COOKIE


def set_kept_cookie(response: Response, settings: Settings, value: str, max_age: int) -> None:
    response.set_cookie(
        kept_cookie(settings),
        value,
        path=KEPT_PATH,
        httponly=True,
        secure=sessions.secure(settings),
        samesite="lax",
        max_age=max_age,
    )


def seal(settings: Settings, draft: Draft, organisation_id: UUID | None) -> tuple[str, list[str]]:
    """The form's input encrypted and authenticated under the node's secret key, holding as many of
    its fields as fit in :data:`KEPT_BYTES`, in the form's order; and the fields left out."""
    box = kept_box(settings)
    kept = Kept(organisation_id, draft.form_key, [], [])
    sealed = box.encrypt(msgspec.json.encode(kept)).decode()
    for name, values in draft.fields():
        more = Kept(kept.organisation, kept.form_key, [*kept.fields, (name, values)], kept.left_out)
        fits = box.encrypt(msgspec.json.encode(more)).decode()
        if len(fits) > KEPT_BYTES:
            more = Kept(kept.organisation, kept.form_key, kept.fields, [*kept.left_out, name])
            fits = box.encrypt(msgspec.json.encode(more)).decode()
        if len(fits) <= KEPT_BYTES:
            kept, sealed = more, fits
    return sealed, [name for name, _ in draft.fields() if name not in {n for n, _ in kept.fields}]


def unseal(settings: Settings, sealed: str | None, principal: Principal) -> Kept | None:
    """The input kept in ``sealed`` if this node sealed it less than :data:`KEPT_SECONDS` ago for the
    reader's organisation (or for none named); None otherwise."""
    if not sealed:
        return None
    try:
        kept = msgspec.json.decode(kept_box(settings).decrypt(sealed.encode(), ttl=KEPT_SECONDS), type=Kept)
    except (InvalidToken, msgspec.DecodeError):
        return None
    if kept.organisation is not None and kept.organisation != principal.org_id:
        return None
    return kept


def keep_input(request: Request, exc: csrf.SessionEnded) -> Response:
    """A new request's form sent after its author's session ended: nothing is written (403); what was
    typed is sealed in a cookie only the form's address receives (never in an address: it may be
    confidential), and the page's sign-in link comes back to the form, which opens holding it."""
    settings: Settings = request.app.state.settings
    sealed, left_out = seal(settings, Draft.of(exc.kept or {}), exc.organisation_id)
    labels = field_labels()
    response = page(
        "requests/session_ended.html",
        status_code=403,
        login_url="/login?" + urlencode({"next": f"{KEPT_PATH}?kept=1"}),
        left_out=[labels.get(name, name) for name in left_out],
    )
    set_kept_cookie(response, settings, sealed, KEPT_SECONDS)
    return response  # type: ignore[return-value]


# --- a request's page -----------------------------------------------------------------------


@dataclass
class Seen:
    """What an action form says the request was when the page was shown."""

    version: int | None
    state: str
    at: datetime | None

    @classmethod
    def of(cls, form: FormMultiDict) -> Seen:
        version = str(form.get("version") or "")
        try:
            at = datetime.fromisoformat(str(form.get("seen_at") or ""))
        except ValueError:
            at = None
        return cls(int(version) if version.isdigit() else None, str(form.get("seen_state") or ""), at)


def actions_of(detail: schemas.RequestDetail) -> list[str]:
    """The requester's actions the request's state allows, as buttons."""
    allowed = detail.allowed_transitions
    found = []
    if detail.state == "draft" and "submitted" in allowed:
        found.append("submit")
    if "on-hold" in allowed:
        found.append("hold")
    if detail.state == "on-hold":
        found.append("resume")
    if "in-progress" in allowed:
        found.append("start")
    if "completed" in allowed:
        found.append("close")
    if "cancelled" in allowed:
        found.append("withdraw")
    return found


def reason_views(reasons: list[schemas.Reason]) -> list[dict[str, str]]:
    return [
        {
            "dimension": label(DIMENSION_LABELS, r.dimension),
            "points": i18n.format_number(r.points),
            "text": r.text,
        }
        for r in reasons
    ]


async def expert_names(db: AsyncSession, principal: Principal, ids: set[UUID]) -> dict[UUID, str]:
    """The names of the experts among ``ids`` the reader may see."""
    if not ids:
        return {}
    rows = await db.execute(
        select(Expert.id, Expert.name).where(Expert.id.in_(ids), visible(Expert, principal))
    )
    return dict(rows.all())


async def office_names(db: AsyncSession, principal: Principal, ids: set[UUID]) -> dict[UUID, str]:
    if not ids:
        return {}
    rows = await db.execute(
        select(Office.id, Office.name).where(Office.id.in_(ids), visible(Office, principal))
    )
    return dict(rows.all())


def history_views(
    detail: schemas.RequestDetail, orgs: dict[str, str], after: datetime | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "at": when(t.at),
            "at_iso": t.at.isoformat(),
            "from": label(STATE_LABELS, t.from_state) if t.from_state else "",
            "to": label(STATE_LABELS, t.to_state),
            "by": orgs.get(t.organisation, t.organisation)
            if t.organisation
            else i18n.gettext("another office asked"),
            "note": t.note,
        }
        for t in detail.history
        if after is None or t.at > after
    ]


async def detail_page(
    db: AsyncSession,
    principal: Principal,
    request_id: UUID,
    *,
    status: int = 200,
    notice: str = "",
    conflict: Seen | None = None,
    errors: dict[str, list[str]] | None = None,
    answer: Mapping[str, Any] | None = None,
) -> Template:
    """A request's page: what is asked, where it stands, what its reader may do next; for the
    requester its matches (a draft's), the offers side by side and the overlap cases; for an
    addressed organisation its answer's form."""
    detail = await service.request_detail(db, principal, await service.get_request(db, principal, request_id))
    mine = detail.organisation == principal.org_slug
    can_write = "requests:write" in principal.scopes
    orgs = await listing.organisation_names(db)
    answers = (await responses.list_responses(db, principal, request_id, limit=100, cursor=None)).items
    experts = await expert_names(db, principal, {e for r in answers for e in r.experts})
    offices = await office_names(db, principal, {r.office_id for r in answers} | {detail.office_id})
    matches = None
    if mine and detail.state == "draft":
        matches = await service.request_matches(db, principal, request_id)
    responded = {r.office_id for r in answers}
    to_answer = [
        a for a in detail.addressees if a.organisation == principal.org_slug and a.office_id not in responded
    ]
    may_answer = not mine and can_write and detail.state in ("submitted", "received") and bool(to_answer)
    own_experts = []
    if may_answer:
        own_experts = (
            await roster.search_experts(
                db,
                principal,
                roster.ExpertFilter(organisation=principal.org_slug),
                limit=OFFER_EXPERTS,
                cursor=None,
            )
        ).items
    view_answers = [
        {
            "id": r.id,
            "kind": r.kind,
            "office": offices.get(r.office_id, ""),
            "organisation": orgs.get(r.organisation, r.organisation),
            "experts": [
                experts.get(e, i18n.gettext("an expert not shared with your organisation")) for e in r.experts
            ],
            "period": period_text(r.period),
            "note": r.note,
            "reason": r.reason,
            "status": r.status,
            "status_label": label(RESPONSE_LABELS, r.status),
            "when": when(r.created_at),
            "may_accept": mine
            and can_write
            and r.kind == "offer"
            and r.status == "open"
            and detail.state in ("received", "accepted"),
        }
        for r in answers
    ]
    changes = None
    if conflict is not None:
        changes = {
            "was": label(STATE_LABELS, conflict.state) if conflict.state else "",
            "now": label(STATE_LABELS, detail.state),
            "history": history_views(detail, orgs, conflict.at),
            "answers": [
                a
                for a, r in zip(view_answers, answers, strict=True)
                if conflict.at is None or r.created_at > conflict.at
            ],
        }
    return page(
        "requests/request.html",
        status_code=status,
        r=detail,
        mine=mine,
        can_write=can_write,
        requester=orgs.get(detail.organisation, detail.organisation),
        office=offices.get(detail.office_id, ""),
        state=label(STATE_LABELS, detail.state),
        urgency=label(URGENCY_LABELS, detail.urgency),
        mandate=label(MANDATE_LABELS, detail.mandate.type),
        route=label(ROUTE_LABELS, detail.route),
        sharing=label(SHARING_LABELS, detail.sharing),
        shared_with=", ".join(orgs.get(s, s) for s in detail.share_with),
        period=period_text(detail.period),
        service_types=", ".join(listing.label("service_type", t) for t in detail.service_types),
        themes=", ".join(listing.label("theme", t) for t in detail.themes),
        languages=", ".join(listing.label("language", c) for c in detail.languages),
        addressees=[(a.office or "", orgs.get(a.organisation, a.organisation)) for a in detail.addressees],
        routing=[
            {
                "office": next((a.office for a in detail.addressees if a.office_id == x.office_id), "") or "",
                "score": i18n.format_number(x.score),
                "reasons": reason_views(x.reasons),
            }
            for x in detail.routing
        ],
        history=history_views(detail, orgs),
        actions=actions_of(detail) if mine and can_write else [],
        matches=matches,
        office_matches=[
            {
                "id": m.office_id,
                "office": m.office,
                "organisation": orgs.get(m.organisation, m.organisation),
                "own": m.own_organisation,
                "score": i18n.format_number(m.score),
                "reasons": reason_views(m.reasons),
            }
            for m in (matches.offices if matches else [])
        ],
        expert_matches=[
            {
                "id": m.expert_id,
                "name": m.name,
                "organisation": orgs.get(m.organisation, m.organisation),
                "score": i18n.format_number(m.score),
                "reasons": reason_views(m.reasons),
                "conflicts": m.conflicts_of_interest,
            }
            for m in (matches.experts if matches else [])
        ],
        offers=[a for a in view_answers if a["kind"] == "offer"],
        declines=[a for a in view_answers if a["kind"] == "decline"],
        to_answer=to_answer if may_answer else [],
        own_experts=own_experts,
        answer=answer or {"kind": "offer", "experts": [], "start": "", "end": "", "note": "", "reason": ""},
        answer_key=secrets.token_urlsafe(16),
        modalities=choices(MODALITY_LABELS),
        notice=notice,
        changes=changes,
        errors=errors or {},
        labels=field_labels(),
        seen_at=datetime.now(UTC).isoformat(),
    )


async def stale_or_none(
    db: AsyncSession, principal: Principal, request_id: UUID, seen: Seen, action: str
) -> Template | Redirect | None:
    """``None`` when the request is as the form saw it and ``action`` is one its state allows; else
    the page of the request as it is now, with what changed (409) — or, when the request is already
    where the action leads (the same form sent twice), the request's page."""
    current = await service.owned(db, principal, request_id)
    detail = await service.request_detail(db, principal, current)
    if seen.version == current.version and action in actions_of(detail):
        return None
    if TARGETS.get(action) == current.state or (
        action == "resume"
        and seen.state == "on-hold"
        and current.state != "on-hold"
        and current.state in service.OPEN
    ):
        return Redirect(f"/requests/{request_id}", status_code=303)
    return await detail_page(db, principal, request_id, status=409, conflict=seen)


def outcome_of(form: FormMultiDict) -> schemas.Outcome | dict[str, list[str]]:
    delivered = str(form.get("delivered") or "")
    modality = str(form.get("modality") or "")
    reason = str(form.get("reason") or "").strip()
    note = str(form.get("note") or "").strip()
    errors: dict[str, list[str]] = {}
    if delivered not in ("yes", "no"):
        errors["delivered"] = [i18n.gettext("answer yes or no")]
    if delivered == "yes" and modality not in MODALITY_LABELS:
        errors["modality"] = [i18n.gettext("say how the support was delivered")]
    if delivered == "no" and not reason:
        errors["reason"] = [i18n.gettext("say why the support was not delivered")]
    for name, value in (("reason", reason), ("note", note)):
        if len(value) > 2000:
            errors.setdefault(name, []).append(i18n.gettext("is longer than %(n)s characters", n=2000))
    if errors:
        return errors
    return schemas.Outcome(
        delivered=delivered == "yes",
        modality=modality if delivered == "yes" else None,  # type: ignore[arg-type]
        reason=reason,
        note=note,
    )


def answer_of(form: FormMultiDict) -> tuple[dict[str, Any], schemas.ResponseCreate | dict[str, list[str]]]:
    """The answer's form as sent, and the response it makes (or every mistake by field)."""
    sent = {
        "office_id": str(form.get("office_id") or ""),
        "kind": str(form.get("kind") or ""),
        "experts": [str(e) for e in form.getall("experts", [])],
        "start": str(form.get("start") or "").strip(),
        "end": str(form.get("end") or "").strip(),
        "note": str(form.get("note") or "").strip(),
        "reason": str(form.get("reason") or "").strip(),
    }
    errors: dict[str, list[str]] = {}
    if uuid_or_none(sent["office_id"]) is None:
        errors["office_id"] = [i18n.gettext("is not one of the choices")]
    if sent["kind"] not in ("offer", "decline"):
        errors["kind"] = [i18n.gettext("choose an offer or a decline")]
    if any(uuid_or_none(e) is None for e in sent["experts"]):
        errors["experts"] = [i18n.gettext("is not one of the choices")]
    elif len(sent["experts"]) > OFFER_MOST:
        errors["experts"] = [i18n.gettext("propose at most %(n)s experts", n=OFFER_MOST)]
    if sent["kind"] == "decline" and not sent["reason"]:
        errors["reason"] = [i18n.gettext("say why the office declines")]
    period = None
    if sent["kind"] == "offer" and (sent["start"] or sent["end"]):
        days = {}
        for name in ("start", "end"):
            try:
                days[name] = date.fromisoformat(sent[name])
            except ValueError:
                errors[name] = [i18n.gettext("is not a date (YYYY-MM-DD)")]
        if len(days) == 2:
            if days["end"] < days["start"]:
                errors["end"] = [i18n.gettext("is before the start")]
            period = schemas.Period(start=days["start"], end=days["end"])
    for name in ("note", "reason"):
        if len(sent[name]) > 2000:
            errors.setdefault(name, []).append(i18n.gettext("is longer than %(n)s characters", n=2000))
    if errors:
        return sent, errors
    offer = sent["kind"] == "offer"
    return sent, schemas.ResponseCreate(
        office_id=UUID(sent["office_id"]),
        kind=sent["kind"],  # type: ignore[arg-type]
        experts=[UUID(e) for e in sent["experts"]] if offer else [],
        period=period if offer else None,
        note=sent["note"],
        reason=sent["reason"] if not offer else "",
    )


# --- lists ----------------------------------------------------------------------------------


def list_query(path: str, params: Mapping[str, str]) -> listing.Query:
    query = listing.Query.of(
        path,
        params,
        {"state": 12, "role": 10, "process_id": 36},
        choices={"state": tuple(STATE_LABELS), "role": tuple(ROLE_FILTERS)},
    )
    if "process_id" in query.values and uuid_or_none(query.values["process_id"]) is None:
        query.errors["process_id"] = i18n.gettext("is not one of the choices")
        del query.values["process_id"]
    return query


def row_views(
    items: list[schemas.SupportRequest], orgs: dict[str, str], now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "title": r.title,
            "process": r.process.name or "",
            "state": label(STATE_LABELS, r.state),
            "period": period_text(r.period),
            "organisation": orgs.get(r.organisation, r.organisation),
            "urgency": label(URGENCY_LABELS, r.urgency),
            "waited": waited(r.submitted_at, now),
            "submitted": when(r.submitted_at),
        }
        for r in items
    ]


async def answered_by(db: AsyncSession, principal: Principal, request_ids: list[UUID]) -> set[UUID]:
    """Which of ``request_ids`` the reader's organisation has answered (offered or declined)."""
    if not request_ids:
        return set()
    return set(
        await db.scalars(
            select(RequestResponse.request_id).where(
                RequestResponse.request_id.in_(request_ids),
                RequestResponse.organisation_id == principal.org_id,
            )
        )
    )


# --- the home page --------------------------------------------------------------------------


async def home(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    """What the home page says of requests, overlaps and capacities: the inbox (requests awaiting the
    organisation's answer, with how long each has waited), its open requests by state, the open
    overlap cases it is party to, and its capacities to confirm."""
    if "requests:read" not in principal.scopes:
        return {"requests_home": None}
    now = datetime.now(UTC)
    orgs = await listing.organisation_names(db)
    awaiting_conditions = (
        service.readable(principal),
        SupportRequest.addressee_orgs.contains([principal.org_id]),
        SupportRequest.state.in_(("submitted", "received")),
        ~select(RequestResponse.id)
        .where(
            RequestResponse.request_id == SupportRequest.id,
            RequestResponse.organisation_id == principal.org_id,
        )
        .exists(),
    )
    awaiting_total = await db.scalar(
        select(func.count()).select_from(SupportRequest).where(*awaiting_conditions)
    )
    awaiting = (  # the longest waiting first
        await db.execute(
            select(
                SupportRequest.id,
                SupportRequest.title,
                SupportRequest.state,
                SupportRequest.submitted_at,
                Organisation.slug,
            )
            .join(Organisation, Organisation.id == SupportRequest.organisation_id)
            .where(*awaiting_conditions)
            .order_by(SupportRequest.submitted_at, SupportRequest.id)
            .limit(HOME_ITEMS)
        )
    ).all()
    by_state = dict(
        (
            await db.execute(
                select(SupportRequest.state, func.count())
                .where(
                    SupportRequest.organisation_id == principal.org_id,
                    SupportRequest.state.in_(("draft", *service.OPEN)),
                )
                .group_by(SupportRequest.state)
            )
        ).all()
    )
    cases = await overlaps.list_cases(db, principal, status="open", limit=HOME_ITEMS, cursor=None)
    stale = None
    if {"directory:write", "org:admin"} & principal.scopes:
        rows = (
            await db.execute(
                select(Office.id, Office.name, func.count())
                .join(Capacity, Capacity.office_id == Office.id)
                .where(
                    Capacity.organisation_id == principal.org_id,
                    Capacity.last_confirmed_at < now - STALE_AFTER,
                )
                .group_by(Office.id, Office.name)
                .order_by(Office.name)
            )
        ).all()
        stale = {
            "total": sum(r[2] for r in rows),
            "offices": [{"id": r[0], "name": r[1], "count": r[2]} for r in rows[:HOME_ITEMS]],
            "url": "/directory?" + urlencode({"organisation": principal.org_slug, "view": "capacities"}),
        }
    return {
        "requests_home": {
            "awaiting_total": awaiting_total or 0,
            "awaiting": [
                {
                    "id": r.id,
                    "title": r.title,
                    "state": label(STATE_LABELS, r.state),
                    "organisation": orgs.get(r.slug, r.slug),
                    "waited": waited(r.submitted_at, now),
                }
                for r in awaiting
            ],
            "open": [
                {
                    "state": label(STATE_LABELS, s),
                    "count": by_state[s],
                    "url": f"/requests?role=requester&state={s}",
                }
                for s in ("draft", *service.OPEN)
                if by_state.get(s)
            ],
            "open_total": sum(by_state.values()),
            "cases_total": cases.total,
            "cases": [
                {
                    "id": c.id,
                    "process": c.process.name or "",
                    "organisations": ", ".join(orgs.get(o, o) for o in c.organisations),
                }
                for c in cases.items
            ],
            "stale": stale,
            "can_write": "requests:write" in principal.scopes,
        }
    }


# --- the pages ------------------------------------------------------------------------------


def _origin(request: Request) -> str:
    return request.app.state.settings.issuer


class RequestPages(Controller):
    """``/requests``: the organisation's requests, a new request's form, a request's page and its
    actions."""

    path = "/requests"
    include_in_schema = False

    @get("/", guards=[needs("requests:read")])
    async def list_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = list_query("/requests", request.query_params)
        found = None
        if not query.errors:
            try:
                found = await service.list_requests(
                    db,
                    principal,
                    service.RequestFilter(
                        state=query.values.get("state"),
                        process_id=uuid_or_none(query.values.get("process_id", "")),
                        role=query.values.get("role"),  # type: ignore[arg-type]
                    ),
                    limit=PAGE_SIZE,
                    cursor=query.cursor,
                )
            except InvalidInput as exc:
                query.errors_from(exc)
        return page(
            "requests/list.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            rows=row_views(found.items, await listing.organisation_names(db), datetime.now(UTC))
            if found
            else [],
            total=found.total if found else 0,
            next_url=query.url(cursor=found.next_cursor) if found and found.next_cursor else None,
            first_url=query.url() if query.cursor else None,
            states=choices(STATE_LABELS),
            roles=choices(ROLE_FILTERS),
            labels=field_labels()
            | {"role": i18n.gettext("Whose"), "state": i18n.gettext("State"), "cursor": i18n.gettext("Page")},
            can_write="requests:write" in principal.scopes,
        )

    @get("/new", guards=[needs("requests:write")])
    async def new_form(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        """The form, holding what its address says (a search of the processes), or with ``kept=1``
        the input its cookie kept while its author signed in again (the cookie then cleared)."""
        if request.query_params.get("kept") != "1":
            return await form_page(db, principal, Draft.of(request.query_params), {})
        settings: Settings = request.app.state.settings
        kept = unseal(settings, request.cookies.get(kept_cookie(settings)), principal)
        draft = Draft.of(FormMultiDict([(k, v) for k, vs in kept.fields for v in vs] if kept else []))
        if kept is not None and kept.organisation is None:  # session unknown: the office must be theirs
            offices = {str(office) for office, _ in await own_offices(db, principal)}
            if draft.values["office_id"] not in {"", *offices}:
                kept = None
        if kept is None:
            shown = await form_page(db, principal, Draft.of({}), {}, kept="lost")
        else:
            draft.form_key = kept.form_key
            labels = field_labels()
            shown = await form_page(
                db, principal, draft, {}, kept="kept", retype=[labels.get(n, n) for n in kept.left_out]
            )
        set_kept_cookie(shown, settings, "", 0)
        return shown

    @post(
        "/new",
        guards=[needs("requests:write")],
        exception_handlers={csrf.SessionEnded: keep_input},
        opt=csrf.KEEPS_INPUT,
    )
    async def create(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await request.form()
        draft = Draft.of(form)
        if form.get("find"):  # "Find processes": the form again, with the registry's answer
            return await form_page(db, principal, draft, {})
        made = await create_from_form(db, principal, draft, _origin(request))
        if isinstance(made, dict):
            return await form_page(db, principal, draft, made)
        return Redirect(f"/requests/{made}", status_code=303)

    @get("/{request_id:uuid}", guards=[needs("requests:read")])
    async def request_page(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Template:
        return await detail_page(db, principal, request_id)

    async def _act(
        self, request: Request, db: AsyncSession, principal: Principal, request_id: UUID, action: str
    ) -> Template | Redirect:
        form = await request.form()
        seen = Seen.of(form)
        stale = await stale_or_none(db, principal, request_id, seen, action)
        if stale is not None:
            return stale
        try:
            async with db.begin_nested():
                if action == "submit":
                    addressees = [u for u in map(uuid_or_none, map(str, form.getall("addressees", []))) if u]
                    if addressees:
                        await service.update_request(
                            db, principal, request_id, schemas.RequestUpdate(addressees=addressees), None
                        )
                    await service.submit_request(db, principal, request_id)
                elif action == "withdraw":
                    await service.withdraw_request(db, principal, request_id)
                elif action == "close":
                    outcome = outcome_of(form)
                    if isinstance(outcome, dict):
                        return await detail_page(db, principal, request_id, status=422, errors=outcome)
                    await service.close_request(db, principal, request_id, outcome)
                else:
                    current = await service.owned(db, principal, request_id)
                    to = (current.held_from or "submitted") if action == "resume" else TARGETS[action]
                    await service.update_request(
                        db, principal, request_id, schemas.RequestUpdate(state=to), None
                    )  # type: ignore[arg-type]
        except InvalidInput as exc:
            fields = ("addressees",) if action == "submit" else ("reason", "modality", "note")
            return await detail_page(
                db, principal, request_id, status=422, errors=errors_from(exc, {}, fields)
            )
        except Conflict as exc:
            if action == "submit" and seen.state == "draft":  # no addressee, or no match good enough
                return await detail_page(
                    db, principal, request_id, status=409, errors={"addressees": [exc.detail]}
                )
            return await detail_page(db, principal, request_id, status=409, conflict=seen)
        return Redirect(f"/requests/{request_id}", status_code=303)

    @post(
        ["/{request_id:uuid}/submit", "/{request_id:uuid}/withdraw"],
        guards=[needs("requests:write"), limit_bursts],
    )
    async def submit_or_withdraw(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Submit or withdraw (the address's last segment), within the submissions' burst limit."""
        return await self._act(request, db, principal, request_id, request.url.path.rsplit("/", 1)[1])

    @post(
        [f"/{{request_id:uuid}}/{action}" for action in ("hold", "resume", "start", "close")],
        guards=[needs("requests:write")],
    )
    async def move(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Hold, resume, start or close (the address's last segment)."""
        return await self._act(request, db, principal, request_id, request.url.path.rsplit("/", 1)[1])

    @post("/{request_id:uuid}/answer", guards=[needs("requests:write")])
    async def answer(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
    ) -> Template | Redirect:
        """An addressed office's offer or decline; the form's key makes a form sent twice answer once."""
        form = await request.form()
        await service.get_request(db, principal, request_id)  # 404 for anyone it was not sent to
        sent, made = answer_of(form)
        if isinstance(made, dict):
            return await detail_page(db, principal, request_id, status=422, errors=made, answer=sent)
        key = str(form.get("form_key") or "")[:100] or None
        try:
            async with db.begin_nested():
                await responses.respond(
                    db, principal, request_id, made, origin=_origin(request), idempotency_key=key
                )
        except InvalidInput as exc:
            return await detail_page(
                db,
                principal,
                request_id,
                status=422,
                answer=sent,
                errors=errors_from(
                    exc,
                    {"period": "start"},
                    ("office_id", "kind", "experts", "start", "end", "note", "reason"),
                ),
            )
        except Conflict:
            return await detail_page(db, principal, request_id, status=409, conflict=Seen.of(form))
        return Redirect(f"/requests/{request_id}", status_code=303)

    @post("/{request_id:uuid}/offers/{response_id:uuid}/accept", guards=[needs("requests:write")])
    async def accept(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        request_id: FromPath[UUID],
        response_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await request.form()
        status = await db.scalar(
            select(RequestResponse.status).where(
                RequestResponse.id == response_id, RequestResponse.request_id == request_id
            )
        )
        await service.owned(db, principal, request_id)  # 404 for anyone else, 403 for an addressee
        if status == "accepted":  # the same form sent twice
            return Redirect(f"/requests/{request_id}", status_code=303)
        try:
            async with db.begin_nested():
                await responses.accept_response(db, principal, request_id, response_id)
        except Conflict:
            return await detail_page(db, principal, request_id, status=409, conflict=Seen.of(form))
        return Redirect(f"/requests/{request_id}", status_code=303)


class InboxPage(Controller):
    """``/inbox``: the requests sent to the organisation's offices, newest first, with how long each
    has waited and whether the organisation has answered."""

    path = "/inbox"
    include_in_schema = False

    @get("/", guards=[needs("requests:read")])
    async def inbox(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = list_query("/inbox", request.query_params)
        query.errors.pop("role", None)
        query.errors.pop("process_id", None)
        found = None
        if not query.errors:
            try:
                found = await service.inbox(
                    db,
                    principal,
                    state=query.values.get("state"),
                    office_id=None,
                    limit=PAGE_SIZE,
                    cursor=query.cursor,
                )
            except InvalidInput as exc:
                query.errors_from(exc)
        items = found.items if found else []
        answered = await answered_by(db, principal, [r.id for r in items])
        rows = row_views(items, await listing.organisation_names(db), datetime.now(UTC))
        for row, item in zip(rows, items, strict=True):
            row["answered"] = item.id in answered
        return page(
            "requests/inbox.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            rows=rows,
            total=found.total if found else 0,
            next_url=query.url(cursor=found.next_cursor) if found and found.next_cursor else None,
            first_url=query.url() if query.cursor else None,
            states=[(k, v) for k, v in choices(STATE_LABELS) if k != "draft"],
            labels={"state": i18n.gettext("State"), "cursor": i18n.gettext("Page")},
        )
