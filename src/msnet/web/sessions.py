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
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.db.engine import ORG_KEY, PRESENT_KEY, driver, present
from msnet.settings import Settings
from msnet.web.models import Person, WebSession
from msnet.web.people import principal_of

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: A session's last request is written at most this often (not on every page).
TOUCH_EVERY = timedelta(seconds=60)


#: The session of a token's hash (shown to row-level security first, migration 0026), its
#: organisation's slug and name, a fingerprint of every organisation's slug and name
#: (``organisations`` has no row-level security: the same for every reader), and its person (shown by
#: the same hash, migration 0038; of the session's organisation); acting for the session's
#: organisation from then on in the transaction. ``set_config`` in the select list runs for the row
#: found only, once the session is found.
_SESSION = """
SELECT s.id, s.person_id, s.organisation_id, s.language, s.last_seen_at, s.expires_at, o.slug, o.name,
       set_config('msnet.org', s.organisation_id::text, true) AS acting,
       (SELECT md5(string_agg(slug || '/' || name, ',' ORDER BY slug)) FROM organisations) AS names,
       p.id AS seen_person, p.issuer, p.subject, p.email, p.name AS person_name, p.roles, p.created_at, p.signed_in_at
FROM web_sessions s JOIN organisations o ON o.id = s.organisation_id
     LEFT JOIN people p ON p.id = s.person_id AND p.organisation_id = s.organisation_id
WHERE s.token_hash = $1
"""
_TOUCH = "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1"
_ENDED = "DELETE FROM web_sessions WHERE id = $1"
#: ``info`` of the request's database session: the organisations' fingerprint as read with the
#: person's session (:func:`msnet.web.listing.organisation_names` keeps their names by it).
ORGANISATIONS_KEY = "organisations_fingerprint"
#: ``info`` of the request's database session: the organisation of the session the cookie named, when
#: resuming found that session ended (a form sent then keeps its input for that organisation only).
ENDED_KEY = "ended_session_organisation"


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


async def resume(session: AsyncSession, settings: Settings, token: str) -> SignedIn | None:
    """The session whose token this is, if it has not ended (one ended is deleted), read in
    ``session``'s transaction (the request's: resuming costs no transaction of its own), which then
    acts for the session's organisation; its last request noted at most every :data:`TOUCH_EVERY`.
    The token's hash is shown to row-level security by the transaction's first statement (with the
    organisation, none yet: ``PRESENT_KEY``), then one short statement on the driver: the session
    with its organisation (acting for it) and its person (a round trip of its own before).
    SQLAlchemy's way to execution cost more than the database took to run it. ``session`` must not
    have begun. With None, the transaction may act for an organisation still: the caller ends it
    and serves the request in another."""
    now = datetime.now(UTC)
    token_hash = hash_token(token)
    session.info[PRESENT_KEY] = ("msnet.session", token_hash)
    connection = await driver(session)
    row = await connection.fetchrow(_SESSION, token_hash)
    if row is None:
        return None
    if (
        row["seen_person"] is None  # the database's clock says the session expired (migration 0038)
        or row["expires_at"] <= now
        or row["last_seen_at"] <= now - timedelta(minutes=settings.session_idle_minutes)
    ):
        await connection.execute(_ENDED, row["id"])
        session.info[ENDED_KEY] = row["organisation_id"]
        return None
    session.info[ORG_KEY] = row["organisation_id"]  # set in this transaction by the statement already
    session.info[ORGANISATIONS_KEY] = row["names"]
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        await connection.execute(_TOUCH, row["id"], now)
    person = Person(  # read-only: a page reads its attributes
        id=row["person_id"],
        organisation_id=row["organisation_id"],
        issuer=row["issuer"],
        subject=row["subject"],
        email=row["email"],
        name=row["person_name"],
        roles=row["roles"],
        created_at=row["created_at"],
        signed_in_at=row["signed_in_at"],
    )
    return SignedIn(
        session_id=row["id"],
        token_hash=token_hash,
        person=person,
        org_slug=row["slug"],
        org_name=row["name"],
        language=row["language"],
        principal=principal_of(person, row["slug"], str(row["id"]), row["expires_at"]),
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
