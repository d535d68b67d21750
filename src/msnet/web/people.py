"""People and their roles: what a role lets a person do, a person found or made at sign-in, roles
granted by an administrator."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.errors import InvalidInput, NotFound
from msnet.search.paging import next_cursor, page_after
from msnet.web.i18n import N_
from msnet.web.models import Person

ROLES = ("staff", "roster_manager", "org_admin")
ROLE_LABELS = {
    "staff": N_("Staff"),
    "roster_manager": N_("Roster manager"),
    "org_admin": N_("Organisation administrator"),
}
_READ = frozenset(("directory:read", "roster:read", "requests:read", "training:read"))
#: What each role may do, as the API's scopes: every role reads what its organisation may read.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "staff": _READ | {"requests:write", "training:write"},
    "roster_manager": _READ | {"roster:write", "roster:contact", "directory:write"},
    "org_admin": _READ | {"org:admin", "audit:read"},
}


def scopes_of(roles: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES[role] for role in roles if role in ROLE_SCOPES))


def principal_of(person: Person, org_slug: str, credential: str, expires_at: datetime) -> Principal:
    """The person acting for their organisation, with the scopes of their roles."""
    return Principal(
        org_id=person.organisation_id,
        org_slug=org_slug,
        subject=f"{person.issuer}#{person.subject}",
        scopes=scopes_of(person.roles),
        credential=credential,
        expires_at=int(expires_at.timestamp()),
        kind="person",
    )


def check_roles(roles: Iterable[str], field: str = "roles") -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput.field(field, f"unknown role {', '.join(unknown)}: one of {', '.join(ROLES)}")
    return [role for role in ROLES if role in set(roles)]


async def signed_in(
    session: AsyncSession,
    org_id: UUID,
    issuer: str,
    subject: str,
    *,
    email: str | None,
    name: str | None,
    claimed_roles: list[str] | None,
) -> tuple[Person, bool]:
    """The person (issuer, subject) of the organisation, made at their first sign-in (without a role,
    unless the provider's role claim gives some), their e-mail and name as the provider says now;
    with a role claim, the roles are the claim's. Whether they are new."""
    person = await session.scalar(
        select(Person).where(
            Person.organisation_id == org_id, Person.issuer == issuer, Person.subject == subject
        )
    )
    new = person is None
    if person is None:
        person = Person(organisation_id=org_id, issuer=issuer, subject=subject, roles=[])
        session.add(person)
    person.email, person.name = email, name
    if claimed_roles is not None:
        person.roles = [role for role in ROLES if role in claimed_roles]
    person.signed_in_at = datetime.now(UTC)
    await session.flush()
    return person, new


async def find(session: AsyncSession, org_id: UUID, *, email: str | None, subject: str | None) -> Person:
    """A person of the organisation by e-mail (case-insensitive) or by subject."""
    query = select(Person).where(Person.organisation_id == org_id)
    if subject is not None:
        query = query.where(Person.subject == subject)
    else:
        query = query.where(Person.email.ilike((email or "").replace("\\", "\\\\").replace("%", "\\%")))
    found = list(await session.scalars(query.limit(2)))
    if not found:
        raise NotFound(
            "no person of this organisation has signed in with that " + ("subject" if subject else "e-mail")
        )
    if len(found) > 1:
        raise InvalidInput.field("subject", "two people have this e-mail: name the person by --subject")
    return found[0]


async def set_roles(session: AsyncSession, principal: Principal, person: Person, roles: list[str]) -> Person:
    """Set a person's roles (audited as ``person.roles``)."""
    before = list(person.roles)
    person.roles = check_roles(roles)
    await session.flush()
    await record_action(
        session,
        principal,
        "person.roles",
        "person",
        person.id,
        {"person": f"{person.issuer}#{person.subject}", "before": before, "after": person.roles},
    )
    return person


async def list_people(
    session: AsyncSession, org_id: UUID, *, limit: int, cursor: str | None
) -> tuple[list[Person], str | None, int]:
    """A page of the organisation's people, in the order they first signed in (or were made); the
    cursor of the next page; how many there are."""
    query = select(Person).where(Person.organisation_id == org_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(await session.scalars(page_after(query, cursor, None, Person.id).limit(limit + 1)))
    return rows[:limit], next_cursor([(p.id, None) for p in rows], limit, False), total or 0


async def get(session: AsyncSession, org_id: UUID, person_id: UUID) -> Person:
    person = await session.scalar(
        select(Person).where(Person.organisation_id == org_id, Person.id == person_id)
    )
    if person is None:
        raise NotFound(f"no person {person_id} in this organisation")
    return person


async def keeps_an_administrator(session: AsyncSession, person: Person, roles: list[str]) -> None:
    """A 422 (field ``roles``) when taking ``org_admin`` from ``person`` would leave their organisation
    with no administrator to give it back from the pages."""
    if "org_admin" in roles or "org_admin" not in person.roles:
        return
    others = await session.scalar(
        select(func.count()).where(
            Person.organisation_id == person.organisation_id,
            Person.id != person.id,
            Person.roles.contains(["org_admin"]),
        )
    )
    if not others:
        raise InvalidInput.field(
            "roles", "the organisation would have no administrator left: give the role to someone else first"
        )
