"""For tests that call services directly, as a front end other than the API would: principals of the
two kinds no API route makes (a person signed in, a peer node), a transaction opened as a request
edge opens one, and the audit entries left behind."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import rfc8785
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import REQUEST_KEY, RequestOrigin
from msnet.auth.principal import SCOPES, Principal
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.errors import NotFound
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from tests.helpers import add_organisation

PERSON = "https://idp.example#alice"
NODE = "https://node.example"
ORIGIN = RequestOrigin(request_id="req-7f3a", source="192.0.2.44")


def person(org: Organisation) -> Principal:
    return Principal(org.id, org.slug, PERSON, frozenset(SCOPES), "session-1", 2**31 - 1, kind="person")


def node(org: Organisation) -> Principal:
    return Principal(org.id, org.slug, NODE, frozenset(SCOPES), "jti-1", 2**31 - 1, kind="node")


@asynccontextmanager
async def acting(settings: Settings, slug: str) -> AsyncIterator[tuple[AsyncSession, Organisation]]:
    """One committed transaction for organisation ``slug`` (made if missing), serving the request
    ``ORIGIN``."""
    try:
        async with cli_session(settings.database_url) as session:  # type: ignore[arg-type]
            await organisations.get_by_slug(session, slug)
    except NotFound:
        await add_organisation(settings, slug)
    async with cli_session(settings.database_url) as session:  # type: ignore[arg-type]
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        session.info[REQUEST_KEY] = ORIGIN
        yield session, org


async def entries(owner_conn: asyncpg.Connection, org: Organisation) -> list[dict[str, Any]]:
    """The organisation's audit entries, oldest first, without their ids, times and hashes."""
    rows = await owner_conn.fetch(
        "SELECT actor, action, resource_type, resource_id, outcome, request_id, source, payload_digest"
        " FROM audit_log WHERE organisation_id = $1 ORDER BY seq",
        org.id,
    )
    return [dict(r) for r in rows]


def entry(
    actor: str, action: str, resource_type: str, resource_id: Any, digest: str | None = None
) -> dict[str, Any]:
    """An entry as :func:`entries` reads it, recorded in a transaction serving ``ORIGIN``."""
    return {
        "actor": actor,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id),
        "outcome": "success",
        "request_id": ORIGIN.request_id,
        "source": ORIGIN.source,
        "payload_digest": digest,
    }


def digest(payload: Any) -> str:
    """The digest an entry keeps of its payload: SHA-256 of the payload's RFC 8785 JSON."""
    return hashlib.sha256(rfc8785.dumps(msgspec.to_builtins(payload))).hexdigest()
