"""The two halves of a sign-in: :func:`begin` (at ``/login/{org}``) and :func:`complete` (at
``/auth/{org}/callback``), with what must hold between them.

``begin`` keeps the sign-in (the hash of its ``state``, its ``nonce`` and PKCE verifier, the
organisation, the hash of a random value put in the browser's sign-in cookie) for
:data:`SIGNIN_TTL`. ``complete`` takes it out (once: a replayed callback finds nothing) and signs the
person in only if the callback is that organisation's, from the same browser, in time, the provider's
``iss`` (when it sends one) is that organisation's provider, and the ID token is valid for this
sign-in (issuer, audience, nonce, signature, expiry). The person is the one (issuer, subject) names in
that organisation: an e-mail never links two identities.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import audit_event, record
from msnet.db.engine import present, set_organisation
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from msnet.web import identity, oidc, people, sessions
from msnet.web.models import Person, SignIn

SIGNIN_TTL = timedelta(minutes=10)
#: the cookie that ties a callback to the browser that began the sign-in
COOKIE = "msnet_signin"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def redirect_uri(settings: Settings, slug: str) -> str:
    return f"{settings.issuer}/auth/{slug}/callback"


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    browser: str


async def begin(
    session: AsyncSession,
    settings: Settings,
    providers: oidc.Providers,
    organisation: Organisation,
    next_path: str,
) -> Started:
    """Keep a new sign-in for ``organisation``; where to send the browser, and its cookie's value."""
    provider = await identity.get(session, organisation.id)
    if provider is None:
        raise oidc.SignInError("the organisation has no identity provider")
    state, nonce, verifier, browser = (secrets.token_urlsafe(32) for _ in range(4))
    now = datetime.now(UTC)
    await sessions.end_stale(session, settings)
    await set_organisation(session, organisation.id)
    session.add(
        SignIn(
            state_hash=_hash(state),
            organisation_id=organisation.id,
            nonce=nonce,
            code_verifier=verifier,
            browser_hash=_hash(browser),
            next_path=next_path,
            expires_at=now + SIGNIN_TTL,
        )
    )
    await session.flush()
    url = await oidc.authorization_url(
        providers,
        identity.client_of(provider, settings),
        redirect_uri(settings, organisation.slug),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )
    return Started(url, browser)


def _claimed_roles(claims: dict[str, Any], claim: str | None) -> list[str] | None:
    if claim is None:
        return None
    value = claims.get(claim, [])
    values = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return [str(v) for v in values]


def _email_allowed(claims: dict[str, Any], domains: list[str]) -> bool:
    email = claims.get("email")
    if not domains:
        return True
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        return False
    return email.rsplit("@", 1)[1].lower() in domains


async def complete(
    session: AsyncSession,
    settings: Settings,
    providers: oidc.Providers,
    organisation: Organisation,
    params: dict[str, str],
    browser: str | None,
) -> tuple[Person, str]:
    """The person the callback signs in, and where to send them; :class:`oidc.SignInError` if it
    may not (the sign-in it names is used up either way)."""
    state = params.get("state")
    if not state:
        raise oidc.SignInError("the callback has no state")
    await present(session, "msnet.signin", _hash(state))
    kept = (
        await session.execute(delete(SignIn).where(SignIn.state_hash == _hash(state)).returning(SignIn))
    ).scalar_one_or_none()
    if kept is None:
        raise oidc.SignInError("unknown or used state")
    if kept.organisation_id != organisation.id:
        raise oidc.SignInError("the sign-in was begun for another organisation")
    if kept.expires_at < datetime.now(UTC):
        raise oidc.SignInError("the sign-in took too long")
    if browser is None or not secrets.compare_digest(_hash(browser), kept.browser_hash):
        raise oidc.SignInError("the callback came to another browser than the one that began the sign-in")
    if params.get("error"):
        raise oidc.SignInError(f"the provider answered {params['error']}")
    provider = await identity.get(session, organisation.id)
    if provider is None:
        raise oidc.SignInError("the organisation has no identity provider")
    if "iss" in params and params["iss"] != provider.issuer:
        raise oidc.SignInError("the callback's iss is another provider")
    code = params.get("code")
    if not code:
        raise oidc.SignInError("the callback has no code")
    claims = await oidc.finish(
        providers,
        identity.client_of(provider, settings),
        redirect_uri(settings, organisation.slug),
        code=code,
        code_verifier=kept.code_verifier,
        nonce=kept.nonce,
    )
    if not _email_allowed(claims, provider.email_domains):
        raise oidc.SignInError("the person's e-mail is not at one of the organisation's domains")
    await set_organisation(session, organisation.id)
    name = claims.get("name")
    email = claims.get("email")
    person, _ = await people.signed_in(
        session,
        organisation.id,
        provider.issuer,
        str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        claimed_roles=_claimed_roles(claims, provider.role_claim),
    )
    return person, kept.next_path


async def record_failure(session: AsyncSession, scope: Any, organisation: Organisation, reason: str) -> None:
    """A refused sign-in, in the organisation's audit log (in the request's transaction)."""
    await set_organisation(session, organisation.id)
    await record(
        session,
        audit_event(
            scope,
            action="person.sign_in",
            resource_type="organisation",
            resource_id=organisation.slug,
            outcome="denied",
            org_id=organisation.id,
            payload={"reason": reason},
        ),
    )


async def record_success(
    session: AsyncSession, scope: Any, person: Person, organisation: Organisation
) -> None:
    """A sign-in, in the organisation's audit log, with the person as the actor."""
    await record(
        session,
        audit_event(
            scope,
            action="person.sign_in",
            resource_type="person",
            resource_id=str(person.id),
            org_id=organisation.id,
            actor=f"person:{person.issuer}#{person.subject}",
            payload={"roles": person.roles},
        ),
    )
