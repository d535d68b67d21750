"""The quarter's report by e-mail: an organisation administrator who asks for it (``/reports/mailing``,
linked from the quarter's report page) is e-mailed their organisation's last quarter, once a quarter, through the outbox, in
the language they asked in: the key figures, the engagements delivered, and links to the page and
its PDF.

Each e-mail is claimed by moving the person's ``last_quarter`` forward in the transaction that
queues it: however many workers try, one sends it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy import Date, DateTime, ForeignKey, String, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.db.base import Base
from msnet.db.engine import ORG_KEY
from msnet.errors import InvalidInput
from msnet.organisations.models import Organisation
from msnet.outbox.service import enqueue_email
from msnet.settings import Settings
from msnet.web import i18n, people
from msnet.web.models import Person
from msnet.web.pages import needs, page, signed_in_person
from msnet.web.pdf import Quarter
from msnet.web.reports import quarter_bounds, quarter_report

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
#: The role that may ask for the e-mail (and must still hold it when it goes).
ROLE = "org_admin"


class QuarterlyMailing(Base):
    """An administrator's wish for the quarter's report by e-mail, and the last quarter sent."""

    __tablename__ = "report_mailings"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the first day of the last quarter e-mailed (none yet: the last that has ended goes next)
    last_quarter: Mapped[date | None] = mapped_column(Date)


def last_ended(now: datetime) -> tuple[str, date, date]:
    """The last quarter that has ended at ``now``: its name, first and last day."""
    bounds = quarter_bounds(None, now.astimezone(UTC).date())
    assert bounds is not None
    return bounds


async def wanted(db: AsyncSession, person_id: uuid.UUID) -> bool:
    return await db.get(QuarterlyMailing, person_id) is not None


async def ask(db: AsyncSession, principal: Principal, person_id: uuid.UUID, language: str) -> None:
    """The person (an administrator) asks for the e-mail, in ``language``; again: the language changes."""
    await db.execute(
        insert(QuarterlyMailing)
        .values(person_id=person_id, organisation_id=principal.org_id, language=language)
        .on_conflict_do_update(index_elements=[QuarterlyMailing.person_id], set_={"language": language})
    )
    await record_action(db, principal, "report_mailing.ask", "person", person_id)


async def stop(db: AsyncSession, principal: Principal, person_id: uuid.UUID) -> None:
    await db.execute(delete(QuarterlyMailing).where(QuarterlyMailing.person_id == person_id))
    await record_action(db, principal, "report_mailing.stop", "person", person_id)


def render(settings: Settings, report: Quarter, language: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the quarter's e-mail."""
    base = settings.issuer.rstrip("/")
    page = f"{base}/reports/quarter?quarter={report.name}"
    pdf = f"{base}/reports/quarter.pdf?quarter={report.name}"
    with i18n.use(language):
        subject = i18n.gettext(
            "msnet: %(organisation)s's track record, %(quarter)s",
            organisation=report.organisation,
            quarter=report.name,
        )
        title = i18n.gettext(
            "Track record, %(quarter)s (%(first)s to %(last)s)",
            quarter=report.name,
            first=i18n.format_date(report.first),
            last=i18n.format_date(report.last),
        )
        requester, provider = i18n.gettext("As requester"), i18n.gettext("As provider")

        def shown(value: float | None) -> str:
            return "–" if value is None else i18n.format_number(value)

        text = [report.organisation, title, "", i18n.gettext("Key figures"), ""]
        text += [
            i18n.gettext(
                "%(figure)s: as requester %(asked)s, as provider %(received)s",
                figure=t,
                asked=shown(a),
                received=shown(r),
            )
            for t, a, r in report.key_figures
        ]
        rows = "".join(
            f"<tr><th scope='row'>{escape(t)}</th><td>{shown(a)}</td><td>{shown(r)}</td></tr>"
            for t, a, r in report.key_figures
        )
        html = [
            f"<h1>{escape(report.organisation)}</h1><p>{escape(title)}</p>",
            f"<h2>{escape(i18n.gettext('Key figures'))}</h2>",
            f"<table><tr><th></th><th>{escape(requester)}</th><th>{escape(provider)}</th></tr>{rows}</table>",
        ]
        delivered = i18n.gettext("Engagements delivered")
        text += ["", delivered, ""] + [f"* {e.title} ({e.closed})" for e in report.engagements]
        html.append(f"<h2>{escape(delivered)}</h2><ul>")
        html += [f"<li>{escape(e.title)} ({escape(e.closed)})</li>" for e in report.engagements]
        html.append("</ul>")
        links = i18n.gettext("The report with its charts, and as a PDF:")
        text += ["", links, page, pdf]
        html.append(f'<p>{escape(links)} <a href="{escape(page)}">{escape(page)}</a>, ')
        html.append(f'<a href="{escape(pdf)}">PDF</a></p>')
        why = i18n.gettext("You receive this because you asked for it on the quarter's report page.")
        text += ["-- ", why]
        html.append(f"<hr><p>{escape(why)}</p>")
        return (
            subject,
            "\n".join(text) + "\n",
            (f'<!doctype html><html lang="{language}"><body>{"".join(html)}</body></html>'),
        )


async def _send_one(
    session: AsyncSession, settings: Settings, org: Organisation, person_id: uuid.UUID, now: datetime
) -> bool:
    """Claim the person's e-mail of the last quarter that has ended and queue it; whether it went."""
    name, first, _ = last_ended(now)
    mailing = await session.scalar(
        select(QuarterlyMailing)
        .where(
            QuarterlyMailing.person_id == person_id,
            or_(QuarterlyMailing.last_quarter.is_(None), QuarterlyMailing.last_quarter < first),
        )
        .with_for_update(skip_locked=True)
    )
    person = await session.get(Person, person_id)
    if mailing is None or person is None or ROLE not in person.roles or not person.email:
        return False
    mailing.last_quarter = first
    principal = people.principal_of(person, org.slug, "quarterly-report", now + timedelta(minutes=5))
    with i18n.use(mailing.language):
        report = await quarter_report(session, principal, {"quarter": name}, {})
    assert report is not None
    subject, text, html = render(settings, report, mailing.language)
    await enqueue_email(
        session, organisation_id=org.id, to=person.email, subject=subject, text=text, html=html
    )
    return True


async def send_due(
    sessionmaker: async_sessionmaker, settings: Settings, *, now: datetime | None = None
) -> int:
    """E-mail every administrator who asked for it the last quarter that has ended, if not yet sent;
    one transaction a person, acting for their organisation. How many e-mails were queued."""
    now = now or datetime.now(UTC)
    _, first, _ = last_ended(now)
    sent = 0
    async with sessionmaker() as session, session.begin():
        organisations = list(await session.scalars(select(Organisation).order_by(Organisation.slug)))
    for org in organisations:
        async with sessionmaker() as session:
            session.info[ORG_KEY] = org.id
            async with session.begin():
                due = list(
                    await session.scalars(
                        select(QuarterlyMailing.person_id).where(
                            or_(
                                QuarterlyMailing.last_quarter.is_(None), QuarterlyMailing.last_quarter < first
                            )
                        )
                    )
                )
        for person_id in due:
            async with sessionmaker() as session:
                session.info[ORG_KEY] = org.id
                async with session.begin():
                    if await _send_one(session, settings, org, person_id, now):
                        sent += 1
    return sent


class QuarterlyMailingPages(Controller):
    include_in_schema = False
    path = "/reports/mailing"

    @get("/", guards=[needs("org:admin")])
    async def show(self, request: Request, db: NamedDependency[AsyncSession]) -> Template:
        person = signed_in_person(request)
        assert person is not None
        return page("reports/mailing.html", wanted=await wanted(db, person.person.id), changed=False)

    @post("/", guards=[needs("org:admin")])
    async def change(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Template:
        """Ask for the e-mail (``wanted=1``, in the page's language) or stop it (``wanted=0``)."""
        person = signed_in_person(request)
        assert person is not None
        choice = str(data.get("wanted", ""))
        if choice not in ("0", "1"):
            raise InvalidInput.field("wanted", "must be 0 or 1")
        if choice == "1":
            await ask(db, principal, person.person.id, i18n.current())
        else:
            await stop(db, principal, person.person.id)
        return page("reports/mailing.html", wanted=choice == "1", changed=True)
