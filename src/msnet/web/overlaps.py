"""Overlap cases as pages: the cases the person's organisation is a party to (``/overlaps``, by
status, in keyset pages), a case (``/overlaps/{id}``) with what the organisation may see of it, the
messages between the parties, sharing one's own request into the case, and its resolution (propose
one of the five, agree to the open proposal; a case is resolved when every party agreed).

Every page calls the deconfliction services as the signed-in person (never the API over HTTP), so a
party sees exactly what the API shows a client of its organisation, and anyone else a 404. A person
may ask to be e-mailed when their organisation becomes a party to a new case (:class:`OverlapAlert`;
the job ``web.overlap_alerts`` sends it through the outbox, :func:`send_due`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import DateTime, ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from msnet.api import value_errors
from msnet.auth.principal import Principal
from msnet.db.base import Base
from msnet.db.engine import ORG_KEY
from msnet.directory.models import Office
from msnet.errors import Conflict, InvalidInput
from msnet.organisations.models import Organisation
from msnet.outbox.service import enqueue_email
from msnet.overlaps import schemas, service
from msnet.settings import Settings
from msnet.sharing import visible
from msnet.web import i18n, people
from msnet.web.i18n import N_
from msnet.web.listing import Query, label, organisation_names
from msnet.web.models import Person
from msnet.web.pages import needs, page, signed_in_person

PAGE_SIZE = 20
#: The most messages a case's page shows at once (the older ones a page back).
MESSAGES_PAGE = 50
#: The most cases one e-mail lists (it says how many more).
EMAIL_ITEMS = 20
#: A case is e-mailed once the transaction that made it has had this long to commit: the e-mail
#: covers the cases joined up to this long ago, so none is skipped while it is still being written.
SETTLE = timedelta(minutes=2)
STATUSES = ("open", "resolved")
STATUS_LABELS = {"open": N_("Open"), "resolved": N_("Resolved")}
KIND_LABELS = {
    "coordinate": N_("Coordinate, with one office leading"),
    "complementary": N_("Complementary: each proceeds within its own scope"),
    "merge": N_("Merge the requests into one"),
    "withdraw": N_("Withdraw one of the requests"),
    "not_an_overlap": N_("Not an overlap"),
}
DIMENSION_LABELS = {
    "process": N_("the process"),
    "period": N_("the period"),
    "service_types": N_("the service types"),
    "themes": N_("the themes"),
}
FIELD_LABELS = {
    "body": N_("Your message"),
    "kind": N_("Resolution"),
    "lead_office_id": N_("Office that leads"),
    "member": N_("Request withdrawn"),
    "note": N_("Note"),
    "agree": N_("Proposal"),
    "request_id": N_("Your request"),
    "status": N_("Status"),
    "cursor": N_("Page"),
}
DONE = {
    "message": N_("Your message was sent to the other parties."),
    "proposed": N_("Your proposal was sent: it awaits the other parties' agreement."),
    "agreed": N_("You agreed to the proposal."),
    "resolved": N_("Every party agreed: the case is resolved."),
    "shared": N_("What your organisation shares in this case was changed."),
}
RESOLUTION_FIELDS = ("kind", "lead_office_id", "member", "note", "agree")


class OverlapAlert(Base):
    """A person's wish to be e-mailed when their organisation becomes a party to a new overlap case;
    the cases joined up to ``told_until`` were e-mailed (or came before the wish)."""

    __tablename__ = "overlap_alerts"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    #: the language the person used when asking: the e-mail's
    language: Mapped[str] = mapped_column(String(8))
    told_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _translated(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: i18n.translate(v) for k, v in labels.items()}


def _period(period: Any) -> str:
    if period.start is None or period.end is None:
        return ""
    return i18n.gettext(
        "%(start)s to %(end)s", start=i18n.format_date(period.start), end=i18n.format_date(period.end)
    )


def _terms(case: schemas.OverlapCase | schemas.PairExplanation) -> str:
    return ", ".join(
        [label("service_type", t) for t in case.service_types] + [label("theme", t) for t in case.themes]
    )


def _process(case: schemas.OverlapCase) -> str:
    return case.process.name or i18n.gettext("a process not shared with your organisation")


def _names(slugs: list[str], orgs: dict[str, str]) -> str:
    return ", ".join(orgs.get(s, s) for s in slugs)


def case_row(case: schemas.OverlapCase, orgs: dict[str, str], mine: str) -> dict[str, Any]:
    proposal = case.proposal
    return {
        "id": case.id,
        "process": _process(case),
        "organisations": _names(case.organisations, orgs),
        "period": _period(case.period),
        "terms": _terms(case),
        "status": i18n.translate(STATUS_LABELS[case.status]),
        "awaits_you": proposal is not None and mine in proposal.awaiting,
        "created": i18n.format_date(case.created_at),
    }


def _errors(exc: InvalidInput, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """The service's mistakes by the form's field they are about (the rest on the first)."""
    found: dict[str, list[str]] = {}
    for error in exc.errors:
        name = error["field"].split(".", 1)[0]
        found.setdefault(name if name in fields else fields[0], []).append(error["message"])
    return found


def _by_field(errors: list[tuple[str, str]], fields: tuple[str, ...]) -> dict[str, list[str]]:
    return _errors(InvalidInput.every([{"field": f, "message": m} for f, m in errors]), fields)


def _no_hook(tp: Any, value: Any) -> Any:
    raise NotImplementedError


# --- the e-mail of new cases ---------------------------------------------------------------------


async def alert_of(db: AsyncSession, person: Person) -> OverlapAlert | None:
    return await db.get(OverlapAlert, person.id)


def render(
    settings: Settings, total: int, cases: list[schemas.OverlapCase], orgs: dict[str, str], language: str
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the e-mail telling a person of the new cases of their
    organisation (what the organisation may see of them: the process, the parties, the period)."""
    base = settings.issuer.rstrip("/")
    with i18n.use(language):
        subject = i18n.ngettext(
            "msnet: your organisation is party to %(count)s new overlap case",
            "msnet: your organisation is party to %(count)s new overlap cases",
            total,
            count=i18n.format_number(total),
        )
        intro = i18n.gettext("Another organisation's request overlaps with one your organisation is part of:")
        text = [intro, ""]
        html = [f"<p>{escape(intro)}</p><ul>"]
        for case in cases:
            link = f"{base}/overlaps/{case.id}"
            line = i18n.gettext(
                "%(process)s, with %(organisations)s, %(period)s",
                process=_process(case),
                organisations=_names(case.organisations, orgs),
                period=_period(case.period),
            )
            text.append(f"* {line} {link}")
            html.append(f'<li><a href="{escape(link)}">{escape(line)}</a></li>')
        if total > len(cases):
            more = i18n.gettext("… and %(n)s more:", n=total - len(cases))
            text.append(f"{more} {base}/overlaps")
            html.append(f'<li><a href="{escape(base)}/overlaps">{escape(more)}</a></li>')
        html.append("</ul>")
        why = i18n.gettext("You receive this because you asked for it on the overlap cases page:")
        text += ["", "-- ", f"{why} {base}/overlaps"]
        html.append(f'<hr><p>{escape(why)} <a href="{escape(base)}/overlaps">{escape(base)}/overlaps</a></p>')
        return (
            subject,
            "\n".join(text) + "\n",
            f'<!doctype html><html lang="{language}"><body>{"".join(html)}</body></html>',
        )


async def _send_person(
    session: AsyncSession, settings: Settings, org: Organisation, person_id: uuid.UUID, now: datetime
) -> bool:
    """Claim the person's alert and queue the e-mail of the cases joined since the last one;
    whether one was queued."""
    alert = await session.scalar(
        select(OverlapAlert).where(OverlapAlert.person_id == person_id).with_for_update(skip_locked=True)
    )
    person = await session.get(Person, person_id)
    until = now - SETTLE
    if alert is None or person is None or until <= alert.told_until:
        return False
    after, alert.told_until = alert.told_until, until
    principal = people.principal_of(person, org.slug, "overlap-alerts", now + timedelta(minutes=5))
    if "requests:read" not in principal.scopes or not person.email:
        return False
    total, cases = await service.joined_between(session, principal, after, until, limit=EMAIL_ITEMS)
    if not total:
        return False
    subject, text, html = render(settings, total, cases, await organisation_names(session), alert.language)
    await enqueue_email(
        session, organisation_id=org.id, to=person.email, subject=subject, text=text, html=html
    )
    return True


async def send_due(
    sessionmaker: async_sessionmaker, settings: Settings, *, now: datetime | None = None
) -> int:
    """E-mail every person who asked the open cases their organisation became a party to since their
    last e-mail (nothing when there is none); one transaction a person, acting for their
    organisation. How many e-mails were queued."""
    now = now or datetime.now(UTC)
    sent = 0
    async with sessionmaker() as session, session.begin():
        organisations = list(await session.scalars(select(Organisation).order_by(Organisation.slug)))
    for org in organisations:
        async with sessionmaker() as session:
            session.info[ORG_KEY] = org.id
            async with session.begin():
                persons = list(
                    await session.scalars(
                        select(OverlapAlert.person_id).where(OverlapAlert.told_until < now - SETTLE)
                    )
                )
        for person_id in persons:
            async with sessionmaker() as session:
                session.info[ORG_KEY] = org.id
                async with session.begin():
                    sent += await _send_person(session, settings, org, person_id, now)
    return sent


# --- the pages -----------------------------------------------------------------------------------


async def _lead_offices(
    db: AsyncSession, principal: Principal, case: schemas.OverlapCase, orgs: dict[str, str]
) -> list[tuple[str, str]]:
    """The offices of the case's parties the person may see, as (id, name and organisation)."""
    found = await db.execute(
        select(Office.id, Office.name, Organisation.slug)
        .join(Organisation, Organisation.id == Office.organisation_id)
        .where(Organisation.slug.in_(case.organisations), visible(Office, principal))
        .order_by(Organisation.slug, Office.name, Office.id)
    )
    return [(str(i), f"{name} ({orgs.get(slug, slug)})") for i, name, slug in found.all()]


async def case_page(
    request: Request,
    db: AsyncSession,
    principal: Principal,
    case_id: UUID,
    *,
    values: Mapping[str, str] = {},
    errors: dict[str, list[str]] | None = None,
    failure: str | None = None,
    status: int = 200,
) -> Template:
    """A case as the person's organisation may see it, with its messages and the forms."""
    case = await service.get_case(db, principal, case_id)
    cursor = request.query_params.get("messages") or None
    messages = await service.list_messages(db, principal, case_id, limit=MESSAGES_PAGE, cursor=cursor)
    orgs = await organisation_names(db)
    mine = principal.org_slug
    offices = await _lead_offices(db, principal, case, orgs)
    office_names = dict(offices)

    def proposal_view(p: schemas.Proposal | None) -> dict[str, Any] | None:
        if p is None:
            return None
        return {
            "id": p.id,
            "kind": i18n.translate(KIND_LABELS[p.kind]),
            "proposed_by": orgs.get(p.proposed_by, p.proposed_by),
            "lead_office": office_names.get(str(p.lead_office_id), "") if p.lead_office_id else "",
            "member": p.member,
            "note": p.note,
            "agreed_by": _names(p.agreed_by, orgs),
            "awaiting": _names(p.awaiting, orgs),
            "awaits_you": mine in p.awaiting,
            "created": i18n.format_datetime(p.created_at, "short"),
            "decided": i18n.format_datetime(p.decided_at, "short") if p.decided_at else "",
        }

    done = request.query_params.get("done")
    return page(
        "overlaps/case.html",
        status_code=status,
        case=case,
        process=_process(case),
        status_label=i18n.translate(STATUS_LABELS[case.status]),
        organisations=_names(case.organisations, orgs),
        period=_period(case.period),
        terms=_terms(case),
        dimensions=", ".join(i18n.translate(DIMENSION_LABELS[d]) for d in case.dimensions),
        pairs=[
            {
                "members": " & ".join(str(n) for n in pair.members),
                "dimensions": ", ".join(i18n.translate(DIMENSION_LABELS[d]) for d in pair.dimensions),
                "period": _period(pair.period),
                "terms": _terms(pair),
            }
            for pair in case.explanation
        ],
        members=[
            {
                "position": m.position,
                "organisation": orgs.get(m.organisation, m.organisation),
                "parties": _names(m.parties, orgs),
                "request_id": m.request_id,
                "shared": m.shared,
                "description": m.description,
            }
            for m in case.members
        ],
        proposal=proposal_view(case.proposal),
        resolution=proposal_view(case.resolution),
        messages=[
            {
                "organisation": orgs.get(m.organisation, m.organisation),
                "mine": m.organisation == mine,
                "body": m.body,
                "at": i18n.format_datetime(m.created_at, "short"),
            }
            for m in messages.items
        ],
        messages_total=messages.total,
        older_url=f"/overlaps/{case.id}?messages={messages.next_cursor}#messages"
        if messages.next_cursor
        else None,
        offices=offices,
        kinds=list(_translated(KIND_LABELS).items()),
        can_write="requests:write" in principal.scopes,
        values=values,
        errors=errors or {},
        failure=failure,
        done=i18n.translate(DONE[done]) if done in DONE else None,
        field_labels=_translated(FIELD_LABELS),
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


class OverlapPages(Controller):
    """``/overlaps``: the cases, a case, its messages, sharing and resolution, and the e-mail wish."""

    path = "/overlaps"
    include_in_schema = False

    @get("/", guards=[needs("requests:read")])
    async def list_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        query = Query.of("/overlaps", request.query_params, {"status": 10}, choices={"status": STATUSES})
        found: schemas.OverlapPage | None = None
        if not query.errors:
            try:
                found = await service.list_cases(
                    db, principal, status=query.values.get("status"), limit=PAGE_SIZE, cursor=query.cursor
                )
            except InvalidInput as exc:
                query.errors_from(exc)
        orgs = await organisation_names(db)
        person = signed_in_person(request)
        assert person is not None  # the guard
        total = found.total if found else 0
        return page(
            "overlaps/list.html",
            status_code=422 if query.errors else 200,
            query=query,
            errors=query.errors,
            filter_names=_translated(FIELD_LABELS),
            statuses=[
                ("", i18n.gettext("All"), query.url(status=None)),
                *((s, i18n.translate(STATUS_LABELS[s]), query.url(status=s)) for s in STATUSES),
            ],
            chosen=query.values.get("status", ""),
            rows=[case_row(c, orgs, principal.org_slug) for c in found.items] if found else [],
            found_message=i18n.ngettext(
                "%(count)s case", "%(count)s cases", total, count=i18n.format_number(total)
            ),
            next_url=query.url(cursor=found.next_cursor) if found and found.next_cursor else None,
            first_url=query.url() if query.cursor else None,
            alert=await alert_of(db, person.person) is not None,
            alert_saved=request.query_params.get("alert") in ("on", "off"),
        )

    @post("/alert", guards=[needs("requests:read")])
    async def set_alert(self, request: Request, db: NamedDependency[AsyncSession]) -> Redirect:
        """E-mail me of new cases (``notify=1``), or stop."""
        person = signed_in_person(request)
        assert person is not None  # the guard
        form = await _form(request)
        alert = await alert_of(db, person.person)
        wanted = form.get("notify") == "1"
        if wanted and alert is None:
            db.add(
                OverlapAlert(
                    person_id=person.person.id,
                    organisation_id=person.person.organisation_id,
                    language=i18n.current(),
                    told_until=datetime.now(UTC),
                )
            )
        elif wanted and alert is not None:
            alert.language = i18n.current()
        elif alert is not None:
            await db.delete(alert)
        await db.flush()
        return Redirect(f"/overlaps?alert={'on' if wanted else 'off'}", status_code=303)

    @get("/{case_id:uuid}", guards=[needs("requests:read")])
    async def case(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> Template:
        return await case_page(request, db, principal, case_id)

    @post("/{case_id:uuid}/messages", guards=[needs("requests:write")])
    async def post_message(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await _form(request)
        body = {"body": form.get("body", "")}
        errors = value_errors(body, schemas.MessageCreate, [], _no_hook)
        if errors:
            return await self._again(request, db, principal, case_id, form, _by_field(errors, ("body",)))
        try:
            async with db.begin_nested():
                await service.post_message(
                    db, principal, case_id, msgspec.convert(body, schemas.MessageCreate)
                )
        except InvalidInput as exc:
            return await self._again(request, db, principal, case_id, form, _errors(exc, ("body",)))
        except Conflict as exc:
            return await self._again(request, db, principal, case_id, form, failure=exc.detail)
        return Redirect(f"/overlaps/{case_id}?done=message#messages", status_code=303)

    @post("/{case_id:uuid}/resolution", guards=[needs("requests:write")])
    async def resolve(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Propose (the fields of the chosen kind only: a lead office is kept for ``coordinate``, a
        member for ``withdraw``), or agree (``agree``: the open proposal's id)."""
        form = await _form(request)
        body: dict[str, Any]
        if "agree" in form:
            body = {"agree": form["agree"]}
        else:
            kind = form.get("kind", "")
            body = {"note": form.get("note", "")}
            if kind:
                body["kind"] = kind
            if kind == "coordinate" and form.get("lead_office_id"):
                body["lead_office_id"] = form["lead_office_id"]
            if kind == "withdraw" and form.get("member"):
                body["member"] = form["member"]
        errors = value_errors(body, schemas.Resolution, [], _no_hook)
        if errors:
            return await self._again(
                request, db, principal, case_id, form, _by_field(errors, RESOLUTION_FIELDS)
            )
        try:
            async with db.begin_nested():
                case = await service.resolve(
                    db, principal, case_id, msgspec.convert(body, schemas.Resolution, strict=False)
                )
        except InvalidInput as exc:
            return await self._again(request, db, principal, case_id, form, _errors(exc, RESOLUTION_FIELDS))
        except Conflict as exc:
            return await self._again(request, db, principal, case_id, form, failure=exc.detail)
        done = "resolved" if case.status == "resolved" else "agreed" if "agree" in body else "proposed"
        return Redirect(f"/overlaps/{case_id}?done={done}", status_code=303)

    @post("/{case_id:uuid}/share", guards=[needs("requests:write")])
    async def share(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        case_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Show the other parties the description of one of the organisation's requests (or stop)."""
        form = await _form(request)
        body = {"request_id": form.get("request_id", ""), "shared": form.get("shared") == "1"}
        errors = value_errors(body, schemas.Share, [], _no_hook)
        if errors:
            return await self._again(
                request, db, principal, case_id, form, _by_field(errors, ("request_id",))
            )
        try:
            async with db.begin_nested():
                await service.share(
                    db, principal, case_id, msgspec.convert(body, schemas.Share, strict=False)
                )
        except InvalidInput as exc:
            return await self._again(request, db, principal, case_id, form, _errors(exc, ("request_id",)))
        return Redirect(f"/overlaps/{case_id}?done=shared", status_code=303)

    async def _again(
        self,
        request: Request,
        db: AsyncSession,
        principal: Principal,
        case_id: UUID,
        form: dict[str, str],
        errors: dict[str, list[str]] | None = None,
        *,
        failure: str | None = None,
    ) -> Template:
        """The case's page again with what was entered and what is wrong with it (nothing written)."""
        return await case_page(
            request,
            db,
            principal,
            case_id,
            values=form,
            errors=errors,
            failure=failure,
            status=409 if failure else 422,
        )
