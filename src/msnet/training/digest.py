"""Digests: subscriptions to a weekly or monthly e-mail of new trainings and publications matching
saved filters, composed with what the subscriber's organisation may see and queued in the outbox.

A digest covers one whole period (a week from Monday, or a calendar month, in UTC) and is sent after
it ends. Each one is claimed by inserting its ``digest_runs`` row (subscription, period start) with
ON CONFLICT DO NOTHING in the transaction that queues the e-mail: however many workers or operators
try, one wins and the others wait for it, then find the row and skip. The unsubscribe link carries an
HMAC of the subscription, so it works without signing in and reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet import search
from msnet.audit.service import audit_event, record, record_action
from msnet.auth.keys import derive_key
from msnet.auth.principal import Principal
from msnet.db.base import new_id
from msnet.db.engine import ORG_KEY, set_organisation
from msnet.errors import Conflict, Errors, InvalidInput, NotFound
from msnet.idempotency.service import Replayed, idempotent
from msnet.organisations.models import Organisation
from msnet.outbox.service import enqueue_email
from msnet.settings import Settings
from msnet.training import feeds, schemas, service
from msnet.training.models import DigestRun, Publication, Subscription, Training

PERIODS: tuple[schemas.Period, ...] = ("weekly", "monthly")
MAX_ITEMS = 50  # of each kind in one digest; the rest are counted


# --- subscriptions -------------------------------------------------------------------------


async def _checked_filters(session: AsyncSession, filters: schemas.DigestFilters) -> schemas.DigestFilters:
    """Saved filters must be ones the searches accept: taxonomy terms, codes (normalised), an
    organisation that exists; a 422 names every one that is not."""

    def term(field: str, kind: str, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return search.term(field, kind, value)
        except InvalidInput:
            errors.add(f"filters.{field}", f"'{value}' is not in the taxonomy")
            return None

    with Errors() as errors:
        checked = msgspec.structs.replace(
            filters,
            theme=term("theme", "theme", filters.theme),
            country=term("country", "country", filters.country),
            language=term("language", "language", filters.language),
        )
        if (
            filters.organisation
            and await session.scalar(select(Organisation.id).where(Organisation.slug == filters.organisation))
            is None
        ):
            errors.add("filters.organisation", f"no organisation '{filters.organisation}'")
    return checked


def _to_schema(row: Subscription, slug: str) -> schemas.Subscription:
    return schemas.Subscription(
        id=row.id,
        organisation=slug,
        email=row.email,
        period=row.period,  # type: ignore[arg-type]
        filters=msgspec.convert(row.filters, schemas.DigestFilters),
        created_at=row.created_at,
    )


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    data: schemas.SubscriptionCreate,
    *,
    idempotency_key: str | None = None,
) -> schemas.Subscription | Replayed:
    return await idempotent(
        session,
        principal,
        idempotency_key,
        "subscription.create",
        data,
        lambda: _create_subscription(session, principal, data),
    )


async def _create_subscription(
    session: AsyncSession, principal: Principal, data: schemas.SubscriptionCreate
) -> schemas.Subscription:
    filters = await _checked_filters(session, data.filters)
    subscription_id = await session.scalar(
        insert(Subscription)
        .values(
            id=new_id(),
            organisation_id=principal.org_id,
            email=data.email,
            period=data.period,
            filters=msgspec.to_builtins(filters),
            created_by=principal.actor,
        )
        .on_conflict_do_nothing()
        .returning(Subscription.id)
    )
    if subscription_id is None:
        raise Conflict(f"{data.email} already has a {data.period} digest; delete it to change its filters")
    row = await session.get(Subscription, subscription_id)
    assert row is not None
    await record_action(session, principal, "subscription.create", "subscription", subscription_id, data)
    return _to_schema(row, principal.org_slug)


async def list_subscriptions(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> schemas.SubscriptionPage:
    mine = Subscription.organisation_id == principal.org_id
    total = await session.scalar(select(func.count()).select_from(Subscription).where(mine))
    query = select(Subscription).where(mine)
    rows = list(
        await session.scalars(search.page_after(query, cursor, None, Subscription.id).limit(limit + 1))
    )
    return schemas.SubscriptionPage(
        items=[_to_schema(r, principal.org_slug) for r in rows[:limit]],
        next_cursor=search.next_cursor([(r.id, None) for r in rows], limit, False),
        total=total or 0,
    )


async def delete_subscription(session: AsyncSession, principal: Principal, subscription_id: UUID) -> None:
    deleted = await session.scalar(
        delete(Subscription)
        .where(Subscription.id == subscription_id, Subscription.organisation_id == principal.org_id)
        .returning(Subscription.id)
    )
    if deleted is None:
        raise NotFound(f"no subscription {subscription_id}")
    await record_action(session, principal, "subscription.delete", "subscription", subscription_id)


# --- the unsubscribe link ------------------------------------------------------------------


def _mac(secret_key: str, payload: bytes) -> bytes:
    return hmac.new(derive_key(secret_key, b"digest-unsubscribe"), payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unsubscribe_token(secret_key: str, organisation_id: UUID, subscription_id: UUID) -> str:
    payload = organisation_id.bytes + subscription_id.bytes
    return f"{_b64(payload)}.{_b64(_mac(secret_key, payload))}"


def check_token(secret_key: str, token: str) -> tuple[UUID, UUID]:
    """The organisation and subscription a link names, if this node signed it (compared in constant
    time); a 404 otherwise."""
    invalid = NotFound("this unsubscribe link is not valid")
    try:
        encoded_payload, encoded_mac = token.split(".")
        payload = base64.urlsafe_b64decode(encoded_payload + "=" * (-len(encoded_payload) % 4))
        mac = base64.urlsafe_b64decode(encoded_mac + "=" * (-len(encoded_mac) % 4))
    except (ValueError, binascii.Error):
        raise invalid from None
    if len(payload) != 32 or not hmac.compare_digest(mac, _mac(secret_key, payload)):
        raise invalid
    return UUID(bytes=payload[:16]), UUID(bytes=payload[16:])


def unsubscribe_url(settings: Settings, organisation_id: UUID, subscription_id: UUID) -> str:
    assert settings.secret_key
    token = unsubscribe_token(settings.secret_key, organisation_id, subscription_id)
    return f"{settings.issuer}/v1/subscriptions/unsubscribe?token={quote(token)}"


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def unsubscribe_form(token: str) -> str:
    """A page that asks before unsubscribing: link checkers that open every link change nothing."""
    action = f"/v1/subscriptions/unsubscribe?token={quote(token)}"
    return _page(
        "Unsubscribe from the msnet digest",
        f'<form method="post" action="{escape(action)}">'
        "<p>This address will no longer receive this digest.</p>"
        '<button type="submit">Unsubscribe</button></form>',
    )


UNSUBSCRIBED_PAGE = _page("Unsubscribed", "<p>This address will no longer receive this digest.</p>")


async def unsubscribe(session: AsyncSession, scope: Any, secret_key: str | None, token: str) -> None:
    """End the subscription a link names, acting for its organisation; a second time changes nothing."""
    assert secret_key
    organisation_id, subscription_id = check_token(secret_key, token)
    await set_organisation(session, organisation_id)
    deleted = await session.scalar(
        delete(Subscription).where(Subscription.id == subscription_id).returning(Subscription.id)
    )
    if deleted is not None:
        await record(
            session,
            audit_event(
                scope,
                action="subscription.unsubscribe",
                resource_type="subscription",
                resource_id=str(subscription_id),
                org_id=organisation_id,
                actor="unsubscribe-link",
            ),
        )


# --- composing and sending -----------------------------------------------------------------


def period_covered(period: str, now: datetime) -> tuple[date, date]:
    """The last whole period before ``now`` (UTC): [first day, first day of the next)."""
    today = now.astimezone(UTC).date()
    if period == "weekly":
        end = today - timedelta(days=today.weekday())
        return end - timedelta(days=7), end
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass
class Digest:
    trainings: list[schemas.Training]
    publications: list[schemas.Publication]
    more_trainings: int
    more_publications: int

    @property
    def items(self) -> int:
        return len(self.trainings) + len(self.publications) + self.more_trainings + self.more_publications


async def compose(
    session: AsyncSession, subscriber: Principal, filters: schemas.DigestFilters, start: date, end: date
) -> Digest:
    """What is new in [start, end) for ``filters``, as the subscriber's organisation may see it;
    trainings already over are left out."""
    created = {"created_from": _midnight(start), "created_before": _midnight(end)}
    training_filter = service.TrainingFilter(
        q=filters.q,
        organisation=filters.organisation,
        theme=filters.theme,
        kind=filters.kind,
        format=filters.format,
        country=filters.country,
        language=filters.language,
        **created,
    )
    values = {**await service.training_values(session, training_filter), "org": subscriber.org_id}
    conditions = [*service.training_conditions(frozenset(values), False), Training.ends_at > func.now()]
    total = await session.scalar(select(func.count()).select_from(Training).where(*conditions), values) or 0
    rows = list(
        await session.scalars(
            select(Training).where(*conditions).order_by(Training.starts_at).limit(MAX_ITEMS), values
        )
    )
    trainings = await service.training_schemas(session, rows)
    publications: list[schemas.Publication] = []
    more_publications = 0
    if filters.publications:
        publication_filter = service.PublicationFilter(
            q=filters.q,
            organisation=filters.organisation,
            theme=filters.theme,
            language=filters.language,
            **created,
        )
        values = {**await service.publication_values(session, publication_filter), "org": subscriber.org_id}
        found = service.publication_conditions(frozenset(values), False)
        count = await session.scalar(select(func.count()).select_from(Publication).where(*found), values) or 0
        publications = await service.publication_schemas(
            session,
            list(
                await session.scalars(
                    select(Publication)
                    .where(*found)
                    .order_by(Publication.published_on.desc())
                    .limit(MAX_ITEMS),
                    values,
                )
            ),
        )
        more_publications = count - len(publications)
    return Digest(trainings, publications, total - len(trainings), more_publications)


def _span(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return f"{start:%d %b} – {last:%d %b %Y}"


def _count(n: int, noun: str) -> str:
    return f"{n} new {noun}{'' if n == 1 else 's'}"


def render(
    digest: Digest, *, period: str, start: date, end: date, email: str, organisation: str, unsubscribe: str
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a digest."""
    trainings = len(digest.trainings) + digest.more_trainings
    publications = len(digest.publications) + digest.more_publications
    subject = (
        f"msnet {period} digest, {_span(start, end)}: "
        f"{_count(trainings, 'training')}, {_count(publications, 'publication')}"
    )
    why = (
        f"You receive this because {organisation.upper()} subscribed {email} to the {period} msnet digest "
        "of new trainings and publications."
    )
    text: list[str] = [f"New on msnet, {_span(start, end)}", ""]
    html: list[str] = [f"<h1>New on msnet, {escape(_span(start, end))}</h1>"]
    if digest.trainings:
        text += ["TRAININGS", ""]
        html.append("<h2>Trainings</h2>")
        for t in digest.trainings:
            text += [f"* {t.title}", *(f"  {line}" for line in feeds.details(t).splitlines()), ""]
            link = f' (<a href="{escape(t.apply_url)}">apply</a>)' if t.apply_url else ""
            html.append(
                f"<h3>{escape(t.title)}{link}</h3><p>{escape(feeds.details(t)).replace(chr(10), '<br>')}</p>"
            )
        if digest.more_trainings:
            text += [f"… and {digest.more_trainings} more: search /v1/trainings", ""]
            html.append(f"<p>… and {digest.more_trainings} more.</p>")
    if digest.publications:
        text += ["PUBLICATIONS", ""]
        html.append("<h2>Publications</h2>")
        for p in digest.publications:
            text += [f"* {p.title} ({p.organisation.upper()}, {p.published_on:%d %b %Y})"]
            text += [f"  {p.summary}"] if p.summary else []
            text += [f"  {p.url}", ""]
            html.append(
                f'<h3><a href="{escape(p.url)}">{escape(p.title)}</a></h3>'
                f"<p>{escape(p.organisation.upper())}, {p.published_on:%d %b %Y}</p>"
                + (f"<p>{escape(p.summary)}</p>" if p.summary else "")
            )
        if digest.more_publications:
            text += [f"… and {digest.more_publications} more: search /v1/publications", ""]
            html.append(f"<p>… and {digest.more_publications} more.</p>")
    text += ["-- ", why, f"Unsubscribe: {unsubscribe}"]
    html.append(f'<hr><p>{escape(why)} <a href="{escape(unsubscribe)}">Unsubscribe</a>.</p>')
    body = "\n".join(html)
    return subject, "\n".join(text) + "\n", f'<!doctype html><html lang="en"><body>{body}</body></html>'


async def _send_one(
    session: AsyncSession,
    settings: Settings,
    org: Organisation,
    subscription: Subscription,
    start: date,
    end: date,
) -> int | None:
    """Claim this subscription's digest for the period and queue it (nothing to send when nothing is
    new); how many items it had, or None if it was already claimed."""
    subscriber = Principal(org.id, org.slug, "digest", frozenset(), "digest", 0)
    filters = msgspec.convert(subscription.filters, schemas.DigestFilters)
    digest = await compose(session, subscriber, filters, start, end)
    claimed = await session.scalar(
        insert(DigestRun)
        .values(
            subscription_id=subscription.id, period_start=start, organisation_id=org.id, items=digest.items
        )
        .on_conflict_do_nothing()
        .returning(DigestRun.subscription_id)
    )
    if claimed is None:
        return None
    message_id = None
    if digest.items:
        link = unsubscribe_url(settings, org.id, subscription.id)
        subject, text, html = render(
            digest,
            period=subscription.period,
            start=start,
            end=end,
            email=subscription.email,
            organisation=org.slug,
            unsubscribe=link,
        )
        message_id = await enqueue_email(
            session,
            organisation_id=org.id,
            to=subscription.email,
            subject=subject,
            text=text,
            html=html,
            headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )
        await session.execute(
            update(DigestRun)
            .where(DigestRun.subscription_id == subscription.id, DigestRun.period_start == start)
            .values(message_id=message_id)
        )
    await record(
        session,
        audit_event(
            {},
            action="digest.send",
            resource_type="subscription",
            resource_id=str(subscription.id),
            org_id=org.id,
            actor="digest",
            payload={"period_start": start.isoformat(), "items": digest.items, "message": str(message_id)},
        ),
    )
    return digest.items


@dataclass
class Report:
    period: str
    start: date
    end: date
    sent: int = 0
    empty: int = 0


async def send_due(
    sessionmaker: async_sessionmaker, settings: Settings, period: str, *, now: datetime | None = None
) -> Report:
    """Queue every subscription's digest for the last whole ``period`` not yet sent; one transaction per
    subscription, acting for its organisation, so each is claimed and queued together or not at all."""
    start, end = period_covered(period, now or datetime.now(UTC))
    report = Report(period, start, end)
    async with sessionmaker() as session, session.begin():
        organisations = list(await session.scalars(select(Organisation).order_by(Organisation.slug)))
    for org in organisations:
        async with sessionmaker() as session:
            session.info[ORG_KEY] = org.id
            async with session.begin():
                done = select(DigestRun.subscription_id).where(DigestRun.period_start == start)
                due = list(
                    await session.scalars(
                        select(Subscription.id).where(
                            Subscription.period == period, Subscription.id.not_in(done)
                        )
                    )
                )
        for subscription_id in due:
            items = None
            async with sessionmaker() as session:
                session.info[ORG_KEY] = org.id
                with contextlib.suppress(IntegrityError):  # unsubscribed while it was being composed
                    async with session.begin():
                        subscription = await session.get(Subscription, subscription_id)
                        if subscription is not None:
                            items = await _send_one(session, settings, org, subscription, start, end)
            if items:
                report.sent += 1
            elif items == 0:
                report.empty += 1
    return report
