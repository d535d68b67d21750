"""Server-side sessions of signed-in people, in PostgreSQL.

The cookie holds an opaque random token; the database holds its SHA-256 only. A session is made at
sign-in (a new token: any token the browser held before is forgotten, so an id planted before
sign-in is never the signed-in one), ends after ``MSNET_SESSION_IDLE_MINUTES`` without a request or
``MSNET_SESSION_MAX_HOURS`` after sign-in, whichever comes first, and at sign-out, on the server.
The cookie is HttpOnly and SameSite=Lax, and Secure (with the ``__Host-`` prefix) unless the node's
public URL is plain HTTP on a loopback address (development).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from litestar import Response
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.auth.principal import Principal
from msnet.db.engine import present, set_organisation
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from msnet.web.models import Person, WebSession
from msnet.web.people import principal_of

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: A session's last request is written at most this often (not on every page).
TOUCH_EVERY = timedelta(seconds=60)


_SESSION = (
    select(WebSession, Organisation.slug, Organisation.name)
    .join(Organisation, Organisation.id == WebSession.organisation_id)
    .where(WebSession.token_hash == bindparam("token_hash"))
)


def secure(settings: Settings) -> bool:
    """Whether cookies are Secure: always but for plain HTTP on a loopback address."""
    url = urlsplit(settings.issuer)
    return not (url.scheme == "http" and url.hostname in LOOPBACK)


def cookie_name(settings: Settings) -> str:
    return "__Host-msnet_session" if secure(settings) else "msnet_session"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The person a request's session is of, acting for their organisation."""

    session_id: UUID
    token_hash: str
    person: Person
    org_slug: str
    org_name: str
    language: str | None
    principal: Principal


async def start(session: AsyncSession, settings: Settings, person: Person, language: str | None) -> str:
    """A new session of ``person``; its token (for the cookie). Sessions that have ended are dropped."""
    now = datetime.now(UTC)
    await end_stale(session, settings)
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_token(token),
            person_id=person.id,
            organisation_id=person.organisation_id,
            language=language,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
        )
    )
    await session.flush()
    return token


_END_STALE = text("SELECT msnet_end_stale_web(:idle)")


async def end_stale(session: AsyncSession, settings: Settings) -> None:
    """Drop the sign-ins and sessions that have ended, whichever organisation's they are."""
    await session.execute(_END_STALE, {"idle": timedelta(minutes=settings.session_idle_minutes)})


async def resume(sessionmaker: async_sessionmaker, settings: Settings, token: str) -> SignedIn | None:
    """The session whose token this is, if it has not ended (one ended is deleted); its last request
    noted. The session and its organisation are read in one statement, the person (isolated by
    organisation) in a second once the organisation is set."""
    now = datetime.now(UTC)
    token_hash = hash_token(token)
    async with sessionmaker() as session, session.begin():
        await present(session, "msnet.session", token_hash)
        found = (await session.execute(_SESSION, {"token_hash": token_hash})).first()
        if found is None:
            return None
        row, org_slug, org_name = found
        if row.expires_at <= now or row.last_seen_at <= now - timedelta(
            minutes=settings.session_idle_minutes
        ):
            await session.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        await set_organisation(session, row.organisation_id)
        person = await session.get(Person, row.person_id)
        if person is None:
            return None
        return SignedIn(
            session_id=row.id,
            token_hash=row.token_hash,
            person=person,
            org_slug=org_slug,
            org_name=org_name,
            language=row.language,
            principal=principal_of(person, org_slug, str(row.id), row.expires_at),
        )


async def end(session: AsyncSession, token_hash: str) -> None:
    await present(session, "msnet.session", token_hash)
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def set_language(session: AsyncSession, session_id: UUID, language: str) -> None:
    await session.execute(update(WebSession).where(WebSession.id == session_id).values(language=language))


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        path="/",
        httponly=True,
        secure=secure(settings),
        samesite="lax",
        max_age=settings.session_max_hours * 3600,
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    """Forget the cookie (set with the same attributes: a ``__Host-`` cookie must be Secure even to be
    removed)."""
    response.set_cookie(
        cookie_name(settings), "", path="/", httponly=True, secure=secure(settings), samesite="lax", max_age=0
    )
