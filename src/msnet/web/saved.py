"""Saved searches: a person saves a roster or trainings search (``POST /searches``, from the search
pages), finds them at ``/searches`` (rename, delete, open) and on their home page with how many
records are new since they last opened each, and, if they ask, is e-mailed every day what is new
since the last e-mail (:func:`send_due`, the job ``web.saved_searches``).

"New" means what the search finds now, as the person's organisation may see it, that was made after
the time looked at: a training by its ``created_at``; an expert by its id, a UUIDv7 whose first 48
bits are the millisecond it was made. Opening a search (``GET /searches/{id}``) marks it looked at."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import Boolean, DateTime, ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from msnet import search
from msnet.auth.principal import Principal
from msnet.db.base import Base, new_id
from msnet.db.engine import ORG_KEY
from msnet.errors import NotFound
from msnet.organisations.models import Organisation
from msnet.outbox.service import enqueue_email
from msnet.roster import service as roster_service
from msnet.roster.models import Expert
from msnet.settings import Settings
from msnet.training import service as training_service
from msnet.training.models import Training
from msnet.web import i18n, listing, people, roster, trainings
from msnet.web.i18n import N_
from msnet.web.models import Person
from msnet.web.pages import page, signed_in, signed_in_person

#: The longest name of a saved search, and the most searches a person keeps.
NAME_LENGTH = 100
MOST = 50
#: The most new records an e-mail lists for one search (it says how many more).
EMAIL_ITEMS = 20
#: How often the e-mail goes out.
EMAIL_EVERY = timedelta(days=1)


class SavedSearch(Base):
    """A person's search: the query string of its page's URL, and when they last looked and were e-mailed."""

    __tablename__ = "saved_searches"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    query: Mapped[str] = mapped_column(String(2000))
    notify: Mapped[bool] = mapped_column(Boolean)
    #: the language the person used when saving or renaming it: the e-mail's
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_looked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_emailed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Kind:
    path: str
    scope: str
    label: str

    def parse(self, params: Mapping[str, str]) -> listing.Query:
        return roster.parse_query(params) if self.path == "/roster" else trainings.parse(params)


KINDS = {
    "roster": Kind("/roster", "roster:read", N_("Roster")),
    "trainings": Kind("/trainings", "training:read", N_("Trainings")),
}
FIELD_LABELS = {"name": N_("Name"), "kind": N_("Search of"), "query": N_("The search")}


@dataclass
class New:
    """What a saved search finds that is new: how many, and the first of them (id, name)."""

    count: int
    items: list[tuple[uuid.UUID, str]]


def _floor(at: datetime) -> uuid.UUID:
    """The least UUIDv7 made after the millisecond of ``at``."""
    millis = int(at.timestamp() * 1000) + 1
    return uuid.UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62))


async def new_since(
    db: AsyncSession, principal: Principal, saved: SavedSearch, since: datetime, limit: int
) -> New:
    """The records ``saved`` finds, as ``principal``'s organisation may see them, made after ``since``."""
    kind = KINDS[saved.kind]
    query = kind.parse(dict(parse_qsl(saved.query)))
    values: dict[str, Any]
    if saved.kind == "roster":
        values = roster_service._values(roster.expert_filter(query))
        if org_id := await search.organisation_id(db, query.values.get("organisation")):
            values["organisation_id"] = org_id
        hits = roster_service._hits(frozenset(values), False)[0].subquery("hits")
        found: Any = (
            select(Expert.id, Expert.name)
            .join(hits, hits.c.key == Expert.id)
            .where(Expert.id >= _floor(since))
        )
        order: Any = Expert.name
    else:
        filters = dataclasses.replace(
            trainings.filters_of(query, datetime.now(UTC).date()), created_from=since
        )
        values = await training_service.training_values(db, filters)
        found = select(Training.id, Training.title).where(
            *training_service.training_conditions(frozenset(values), False)
        )
        order = Training.starts_at
    values["org"] = principal.org_id
    count = await db.scalar(select(func.count()).select_from(found.subquery()), values) or 0
    rows = (await db.execute(found.order_by(order).limit(limit), values)).all()
    return New(count, [(row[0], row[1]) for row in rows])


# --- the person's searches -------------------------------------------------------------------


async def _mine(db: AsyncSession, person: Person) -> list[SavedSearch]:
    return list(
        await db.scalars(
            select(SavedSearch)
            .where(SavedSearch.person_id == person.id)
            .order_by(SavedSearch.created_at, SavedSearch.id)
        )
    )


async def _one(db: AsyncSession, person: Person, saved_id: uuid.UUID) -> SavedSearch:
    saved = await db.scalar(
        select(SavedSearch).where(SavedSearch.id == saved_id, SavedSearch.person_id == person.id)
    )
    if saved is None:
        raise NotFound(f"no saved search {saved_id}")
    return saved


def _name(form: Mapping[str, Any], errors: dict[str, str]) -> str:
    name = " ".join(str(form.get("name") or "").split())
    if not name:
        errors["name"] = i18n.gettext("is required")
    elif len(name) > NAME_LENGTH:
        errors["name"] = i18n.gettext("is longer than %(n)s characters", n=NAME_LENGTH)
    return name


def _checked(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A new saved search from the form, or its mistakes by field."""
    errors: dict[str, str] = {}
    name = _name(form, errors)
    kind = str(form.get("kind") or "")
    query = str(form.get("query") or "").lstrip("?")
    if kind not in KINDS:
        errors["kind"] = i18n.gettext("is not one of the choices")
    else:
        parsed = KINDS[kind].parse(dict(parse_qsl(query)))
        if parsed.errors or len(query) > 2000:
            errors["query"] = i18n.gettext("is not a search this page can save")
        query = urlsplit(parsed.url()).query
    return {"name": name, "kind": kind, "query": query, "notify": form.get("notify") == "1"}, errors


def _row(saved: SavedSearch, new: New | None) -> dict[str, Any]:
    return {
        "id": saved.id,
        "name": saved.name,
        "kind": i18n.translate(KINDS[saved.kind].label),
        "notify": saved.notify,
        "new": new.count if new is not None else None,
        "new_message": i18n.ngettext(
            "%(count)s new since you last looked",
            "%(count)s new since you last looked",
            new.count,
            count=i18n.format_number(new.count),
        )
        if new is not None
        else "",
        "looked": i18n.format_datetime(saved.last_looked_at, "short"),
    }


async def rows(db: AsyncSession, principal: Principal, person: Person) -> list[dict[str, Any]]:
    """The person's searches with how many records each finds that are new since they last looked
    (none for a search their roles no longer let them run)."""
    found = []
    for saved in await _mine(db, person):
        new = None
        if KINDS[saved.kind].scope in principal.scopes:
            new = await new_since(db, principal, saved, saved.last_looked_at, 0)
        found.append(_row(saved, new))
    return found


def _list_page(
    listed: list[dict[str, Any]], errors: dict[str, str], values: Mapping[str, Any], *, status: int = 200
) -> Template:
    return page(
        "saved/list.html",
        status_code=status,
        searches=listed,
        errors=errors,
        values=values,
        field_labels={k: i18n.translate(v) for k, v in FIELD_LABELS.items()},
        kinds=[(k, i18n.translate(v.label)) for k, v in KINDS.items()],
    )


class SavedSearchPages(Controller):
    """``/searches``: the person's saved searches."""

    path = "/searches"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def list_page(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        person = signed_in_person(request)
        assert person is not None
        return _list_page(await rows(db, principal, person.person), {}, {})

    @post("/")
    async def save(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        person = signed_in_person(request)
        assert person is not None
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        values, errors = _checked(form)
        mine = await _mine(db, person.person)
        if not errors and len(mine) >= MOST:
            errors["name"] = i18n.gettext("you already keep %(n)s searches: delete one first", n=MOST)
        if errors:
            return _list_page(await rows(db, principal, person.person), errors, form, status=422)
        now = datetime.now(UTC)
        db.add(
            SavedSearch(
                organisation_id=principal.org_id,
                person_id=person.person.id,
                language=i18n.current(),
                last_looked_at=now,
                last_emailed_at=now,
                **values,
            )
        )
        await db.flush()
        return Redirect("/searches?saved=1", status_code=303)

    @get("/{saved_id:uuid}")
    async def open_search(
        self, request: Request, db: NamedDependency[AsyncSession], saved_id: FromPath[uuid.UUID]
    ) -> Redirect:
        person = signed_in_person(request)
        assert person is not None
        saved = await _one(db, person.person, saved_id)
        saved.last_looked_at = datetime.now(UTC)
        await db.flush()
        path = KINDS[saved.kind].path
        return Redirect(path + (f"?{saved.query}" if saved.query else ""), status_code=303)

    @post("/{saved_id:uuid}/rename")
    async def rename(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        saved_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        person = signed_in_person(request)
        assert person is not None
        saved = await _one(db, person.person, saved_id)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        errors: dict[str, str] = {}
        name = _name(form, errors)
        if errors:
            return _list_page(
                await rows(db, principal, person.person),
                {f"{saved.id}-name": errors["name"]},
                {f"{saved.id}-name": form.get("name", "")},
                status=422,
            )
        saved.name, saved.notify, saved.language = name, form.get("notify") == "1", i18n.current()
        await db.flush()
        return Redirect("/searches", status_code=303)

    @post("/{saved_id:uuid}/delete")
    async def delete(
        self, request: Request, db: NamedDependency[AsyncSession], saved_id: FromPath[uuid.UUID]
    ) -> Redirect:
        person = signed_in_person(request)
        assert person is not None
        await db.delete(await _one(db, person.person, saved_id))
        await db.flush()
        return Redirect("/searches", status_code=303)


# --- the daily e-mail ----------------------------------------------------------------------


def render(settings: Settings, found: list[tuple[SavedSearch, New]], language: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a person's e-mail of what is new in their searches."""
    base = settings.issuer.rstrip("/")
    with i18n.use(language):
        total = sum(new.count for _, new in found)
        subject = i18n.ngettext(
            "msnet: %(count)s new record in your saved searches",
            "msnet: %(count)s new records in your saved searches",
            total,
            count=i18n.format_number(total),
        )
        text = [i18n.gettext("New in your saved searches since the last e-mail:"), ""]
        html = [f"<p>{escape(text[0])}</p>"]
        for saved, new in found:
            heading = i18n.ngettext(
                "%(name)s: %(count)s new",
                "%(name)s: %(count)s new",
                new.count,
                name=saved.name,
                count=new.count,
            )
            text.append(heading)
            html.append(f"<h2>{escape(heading)}</h2><ul>")
            for record_id, name in new.items:
                link = f"{base}{KINDS[saved.kind].path}/{record_id}"
                text.append(f"* {name} {link}")
                html.append(f'<li><a href="{escape(link)}">{escape(name)}</a></li>')
            more = new.count - len(new.items)
            open_link = f"{base}/searches/{saved.id}"
            if more:
                text.append(i18n.gettext("… and %(n)s more:", n=more) + f" {open_link}")
                html.append(
                    f'<li><a href="{escape(open_link)}">{escape(i18n.gettext("… and %(n)s more", n=more))}</a></li>'
                )
            text.append("")
            html.append("</ul>")
        why = i18n.gettext("You receive this because you asked for it on your saved searches page:")
        text += ["-- ", f"{why} {base}/searches"]
        html.append(f'<hr><p>{escape(why)} <a href="{escape(base)}/searches">{escape(base)}/searches</a></p>')
        body = "".join(html)
        return (
            subject,
            "\n".join(text) + "\n",
            f'<!doctype html><html lang="{language}"><body>{body}</body></html>',
        )


async def _send_person(
    session: AsyncSession, settings: Settings, org: Organisation, person_id: uuid.UUID, now: datetime
) -> int:
    """Claim the person's searches due an e-mail and queue what is new in them; how many records."""
    due = list(
        await session.scalars(
            select(SavedSearch)
            .where(
                SavedSearch.person_id == person_id,
                SavedSearch.notify,
                SavedSearch.last_emailed_at <= now - EMAIL_EVERY,
            )
            .order_by(SavedSearch.created_at)
            .with_for_update(skip_locked=True)
        )
    )
    person = await session.get(Person, person_id)
    if not due or person is None:
        return 0
    principal = people.principal_of(person, org.slug, "saved-searches", now + timedelta(minutes=5))
    found = []
    for saved in due:
        if KINDS[saved.kind].scope in principal.scopes:
            new = await new_since(session, principal, saved, saved.last_emailed_at, EMAIL_ITEMS)
            if new.count:
                found.append((saved, new))
        saved.last_emailed_at = now
    if found and person.email:
        subject, text, html = render(settings, found, max(due, key=lambda s: s.created_at).language)
        await enqueue_email(
            session, organisation_id=org.id, to=person.email, subject=subject, text=text, html=html
        )
    return sum(new.count for _, new in found) if person.email else 0


async def send_due(
    sessionmaker: async_sessionmaker, settings: Settings, *, now: datetime | None = None
) -> int:
    """E-mail every person whose searches ask for it and were last e-mailed a day or more ago what
    is new in them (nothing when nothing is); one transaction a person, acting for their
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
                        select(SavedSearch.person_id)
                        .where(SavedSearch.notify, SavedSearch.last_emailed_at <= now - EMAIL_EVERY)
                        .distinct()
                    )
                )
        for person_id in persons:
            async with sessionmaker() as session:
                session.info[ORG_KEY] = org.id
                async with session.begin():
                    if await _send_person(session, settings, org, person_id, now):
                        sent += 1
    return sent
