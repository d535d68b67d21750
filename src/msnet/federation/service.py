"""Peering: recording a peer from its verified node document, keeping its keys and organisations up to
date (key rotation), the OAuth client a peer is of this node, the guard of the federation endpoints,
and removing a peer with the records it replicated here."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.audit.service import AuditEvent, record
from msnet.auth import failures
from msnet.auth import service as auth
from msnet.auth.middleware import verify_with_reload
from msnet.auth.models import DeniedToken
from msnet.auth.principal import NODE_SCOPE, audit_denial, bearer_challenge
from msnet.auth.server import LoadedClient
from msnet.db.engine import ORG_KEY, set_organisation
from msnet.directory.models import Capacity, Office
from msnet.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from msnet.federation import node, schemas
from msnet.federation.models import Peer
from msnet.federation.replicas import Replica
from msnet.logs import get_logger
from msnet.organisations.models import Organisation
from msnet.processes.models import Process
from msnet.roster.models import Expert
from msnet.training.models import Publication, Training

log = get_logger("msnet.federation")

#: the records a peer's organisations replicate here, in the order they are dropped (capacities
#: belong to offices)
REPLICATED = (Capacity, Office, Expert, Process, Training, Publication)
FETCH_TIMEOUT = 10.0
#: a token request signed by a key this node does not know yet refetches the peer's node document,
#: at most this often (seconds, per peer and process)
REFETCH_INTERVAL = 5.0
_refetched: dict[str, float] = {}


def normalise(url: str) -> str:
    """A node's issuer as typed by an operator: without a trailing slash."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) > 300:
        raise InvalidInput.field("url", "must be a node's http(s) base URL, as its MSNET_PUBLIC_URL")
    return url


async def fetch_node_document(issuer: str, http: httpx.AsyncClient | None = None) -> str:
    """The node document that ``issuer`` serves, unverified. Raises ``httpx.HTTPError``."""
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) if http is None else nullcontext(http) as client:
        response = await client.get(issuer + node.PATH)
        response.raise_for_status()
        return response.text


def read_document(token: str, issuer: str, trusted: list[str]) -> schemas.NodeDocument:
    """A peer's node document, verified (``node.verify_node_document``), well formed, and naming
    ``issuer``. Raises ``node.BadNodeDocument`` or ``node.UntrustedKey``."""
    payload = node.verify_node_document(token, trusted)
    try:
        document = msgspec.convert(payload, schemas.NodeDocument)
    except msgspec.ValidationError as exc:
        raise node.BadNodeDocument(f"not a valid node document: {exc}") from None
    if document.issuer.rstrip("/") != issuer:
        raise node.BadNodeDocument(f"the document is {document.issuer}'s, not {issuer}'s")
    return document


@dataclass
class Peering:
    """What ``add_peer`` did: the peer, and the organisations it claims that are homed elsewhere."""

    peer: Peer
    organisations: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def _record_organisations(
    session: AsyncSession, issuer: str, document: schemas.NodeDocument
) -> tuple[list[str], list[str]]:
    """Create or update, as homed on ``issuer``, each organisation its document names; refuse (and
    report) each whose slug or id is homed on this node or another peer. Returns (recorded, refused)."""
    recorded, refused = [], []
    for homed in document.organisations:
        by_slug = await session.scalar(select(Organisation).where(Organisation.slug == homed.slug))
        by_id = await session.get(Organisation, homed.id)
        theirs = [org for org in (by_slug, by_id) if org is not None]
        if any(org.home != issuer for org in theirs) or (by_slug is not None and by_slug is not by_id):
            homes = sorted({org.home or "this node" for org in theirs})
            log.warning("organisation claimed by two nodes", slug=homed.slug, peer=issuer, homes=homes)
            refused.append(homed.slug)
            continue
        org = by_id
        if org is None:
            org = Organisation(id=homed.id, slug=homed.slug, origin=issuer, home=issuer)
            session.add(org)
        elif (org.name, org.kind, org.acronym, list(org.identifiers)) != (
            homed.name,
            homed.kind,
            homed.acronym,
            homed.identifiers,
        ):
            org.version += 1
        org.name, org.kind, org.acronym = homed.name, homed.kind, homed.acronym
        org.identifiers = list(homed.identifiers)
        recorded.append(homed.slug)
    await session.flush()
    return recorded, refused


def _accept(peer: Peer, document: schemas.NodeDocument) -> None:
    """``document`` (verified) becomes the peer's last good one; every key it publishes is trusted."""
    peer.jwks = document.jwks
    peer.trusted_thumbprints = node.fingerprints(document.jwks)
    peer.node_document = msgspec.to_builtins(document)
    peer.state = "active"
    peer.refused_reason = None
    peer.document_checked_at = datetime.now(UTC)


async def add_peer(
    session: AsyncSession, url: str, fingerprint: str, own_issuer: str, http: httpx.AsyncClient | None = None
) -> Peering:
    """Peer with the node at ``url`` (``msnet peer add``): its node document must be signed by the key
    whose fingerprint its operator handed over. Records it (or, for a known peer, confirms its new
    key: a refused peer becomes active), and the organisations homed on it."""
    issuer = normalise(url)
    if issuer == own_issuer:
        raise InvalidInput.field("url", "is this node's own issuer")
    try:
        token = await fetch_node_document(issuer, http)
    except httpx.HTTPError as exc:
        raise Conflict(f"could not read {issuer}{node.PATH}: {exc}") from None
    try:
        document = read_document(token, issuer, [fingerprint.strip()])
    except node.UntrustedKey as exc:
        raise Conflict(
            f"{issuer} is signed by {', '.join(exc.fingerprints)}, not by {fingerprint.strip()}: "
            "check the fingerprint with its operator"
        ) from None
    except node.BadNodeDocument as exc:
        raise Conflict(f"{issuer}{node.PATH}: {exc}") from None
    peer = await session.scalar(select(Peer).where(Peer.issuer == issuer))
    if peer is None:
        peer = Peer(issuer=issuer, failures=0)
        session.add(peer)
    _accept(peer, document)
    await session.execute(delete(DeniedToken).where(DeniedToken.value == f"node:{issuer}"))
    recorded, refused = await _record_organisations(session, issuer, document)
    await _audit(session, "peer.add", issuer, {"fingerprint": fingerprint, "refused": refused})
    return Peering(peer, recorded, refused)


async def refresh_peer(session: AsyncSession, peer: Peer, http: httpx.AsyncClient | None = None) -> bool:
    """Fetch and verify ``peer``'s node document again. A document signed by a trusted key is
    accepted, and the keys it publishes are trusted (a rotation with overlap); one that is signed by
    no trusted key refuses the peer until its operator confirms the new fingerprint (``msnet peer add
    URL --fingerprint NEW``); one that does not verify, or cannot be read, is ignored and the last
    good one kept. True when the document was accepted."""
    peer.document_checked_at = datetime.now(UTC)
    try:
        token = await fetch_node_document(peer.issuer, http)
        document = read_document(token, peer.issuer, list(peer.trusted_thumbprints))
    except (httpx.HTTPError, node.BadNodeDocument) as exc:
        log.warning("peer node document refused; the last good one is kept", peer=peer.issuer, error=str(exc))
        return False
    except node.UntrustedKey as exc:
        if peer.state != "refused":
            await _audit(session, "peer.refuse", peer.issuer, {"fingerprints": exc.fingerprints})
        peer.state = "refused"
        peer.refused_reason = (
            f"its key changed to {', '.join(exc.fingerprints)} without an overlap: confirm with its "
            f"operator, then `msnet peer add {peer.issuer} --fingerprint NEW`"
        )
        log.warning("peer refused: its key changed without an overlap", peer=peer.issuer)
        await session.flush()
        return False
    _accept(peer, document)
    await _record_organisations(session, peer.issuer, document)
    return True


async def refresh_all(sessionmaker: async_sessionmaker) -> None:
    """Fetch every peer's node document again, each in a transaction of its own (the job
    ``federation.documents``): a peer's rotated key is learnt while its old key still signs beside
    it, whether or not the peer calls this node or publishes anything meanwhile."""
    async with sessionmaker() as session, session.begin():
        issuers = list(await session.scalars(select(Peer.issuer).order_by(Peer.issuer)))
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http:
        for issuer in issuers:
            async with sessionmaker() as session, session.begin():
                peer = await session.scalar(select(Peer).where(Peer.issuer == issuer).with_for_update())
                if peer is not None:
                    await refresh_peer(session, peer, http)


async def remove_peer(session: AsyncSession, url: str, token_ttl: int) -> int:
    """Stop exchanging with a peer (``msnet peer remove``): its tokens stop working here, and every
    record it replicated here is deleted, leaving a tombstone (one that a local record still refers
    to, an office a request was sent to say, stays, private to its organisation, as when its own
    tombstone arrives). Its organisations stay in the registry (audit entries may name them), homed
    on it. Returns how many records were dropped."""
    issuer = normalise(url)
    peer = await session.scalar(select(Peer).where(Peer.issuer == issuer))
    if peer is None:
        raise NotFound(f"no peer {issuer}")
    dropped = 0
    for org_id in await homed_org_ids(session, issuer):
        await set_organisation(session, org_id)
        for model in REPLICATED:
            ids = await session.scalars(
                select(model.id).where(model.organisation_id == org_id, model.origin == issuer)
            )
            for record_id in list(ids):
                try:
                    async with session.begin_nested():
                        await session.execute(delete(model).where(model.id == record_id))
                    dropped += 1
                except IntegrityError:
                    await session.execute(
                        update(model).where(model.id == record_id).values(sharing="private", share_with=[])
                    )
    await session.execute(delete(Replica).where(Replica.origin == issuer))
    await auth.deny(session, f"node:{issuer}", datetime.now(UTC) + timedelta(seconds=token_ttl + 60))
    await session.delete(peer)
    await _audit(session, "peer.remove", issuer, {"dropped": dropped})
    return dropped


async def _audit(session: AsyncSession, action: str, issuer: str, payload: dict[str, Any]) -> None:
    """An entry of the node's own (no organisation's) in the audit log, by its operator; the
    session acts for no organisation from then on."""
    session.info[ORG_KEY] = None
    await session.execute(select(func.set_config("msnet.org", "", True)))
    await record(
        session,
        AuditEvent(
            organisation_id=None,
            actor="operator",
            action=action,
            resource_type="peer",
            resource_id=issuer,
            outcome="success",
            payload=payload,
        ),
    )


async def homed_org_ids(session: AsyncSession, peer_issuer: str) -> frozenset[UUID]:
    """The organisations homed on the peer ``peer_issuer``, as recorded here."""
    return frozenset(await session.scalars(select(Organisation.id).where(Organisation.home == peer_issuer)))


async def peer_statuses(session: AsyncSession) -> list[schemas.PeerStatus]:
    """Every peer, with the state of the exchange with it (``msnet peer list`` / ``peer status``)."""
    now = datetime.now(UTC)
    statuses = []
    for peer in await session.scalars(select(Peer).order_by(Peer.issuer)):
        homed = list(
            await session.scalars(
                select(Organisation.slug).where(Organisation.home == peer.issuer).order_by(Organisation.slug)
            )
        )
        claimed = [o["slug"] for o in peer.node_document.get("organisations", [])]
        statuses.append(
            schemas.PeerStatus(
                issuer=peer.issuer,
                state=peer.state,
                organisations=homed,
                refused_organisations=sorted(set(claimed) - set(homed)),
                fingerprints=sorted(peer.trusted_thumbprints),
                added_at=peer.added_at,
                document_checked_at=peer.document_checked_at,
                last_sync_at=peer.last_sync_at,
                last_change_at=peer.last_change_at,
                lag_seconds=round((now - peer.last_sync_at).total_seconds(), 1)
                if peer.last_sync_at
                else None,
                failures=peer.failures,
                last_error=peer.last_error,
                last_error_at=peer.last_error_at,
                refused_reason=peer.refused_reason,
            )
        )
    return statuses


# --- the OAuth client a peer is of this node, and the guard of the federation endpoints ----------


async def load_node_client(
    session: AsyncSession, client_id: str, secret_key: str, key_id: str | None
) -> LoadedClient | None:
    """The OAuth client that the peer ``client_id`` (its issuer) is of this node: it authenticates
    with ``private_key_jwt`` signed by its node key and holds the scope ``federation`` only. It acts
    for the first of its organisations (by slug), which row-level security and the audit log need;
    a peer without organisations, or refused, is no client. An assertion signed by a key not yet
    known (``key_id``: the peer rotated its key) refetches its node document first, at most every
    ``REFETCH_INTERVAL``."""
    peer = await session.scalar(select(Peer).where(Peer.issuer == client_id))
    if peer is None:
        return None
    known = {str(key.get("kid")) for key in peer.jwks.get("keys", [])}
    if key_id is not None and key_id not in known:
        now = time.monotonic()
        if now - _refetched.get(client_id, -REFETCH_INTERVAL) >= REFETCH_INTERVAL:
            _refetched[client_id] = now
            await refresh_peer(session, peer)
    if peer.state != "active":
        return None
    org = await session.scalar(
        select(Organisation).where(Organisation.home == client_id).order_by(Organisation.slug).limit(1)
    )
    if org is None:
        return None
    await set_organisation(session, org.id)
    return LoadedClient(
        client_id=client_id,
        org_id=org.id,
        org_slug=org.slug,
        scopes=[NODE_SCOPE],
        secret_hash=None,
        jwks=peer.jwks,
        secret_key=secret_key,
    )


def _peer_node() -> Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]:
    needed = frozenset((NODE_SCOPE,))

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        """A guard for the federation endpoints: an access token of an active peer node with the scope
        ``federation`` (401 without a valid token, or from a peer removed or refused since; 403, audited,
        for any other principal). Sets the request's principal (the bearer middleware authenticates /v1
        only)."""
        principal = connection.scope.get("auth")
        if principal is None:
            header = connection.headers.get("authorization")
            scheme, _, token = (header or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("a peer node's access token is required", headers=bearer_challenge())
            try:
                principal, _claims = await verify_with_reload(connection.app.state, token.strip())
            except auth.TokenRejected as exc:
                key = failures.FailureKey(failures.source_of(connection.scope), exc.reason)
                raise auth.refused(exc.description, await failures.account(connection.scope, key)) from None
            connection.scope["auth"] = principal
        if principal.kind != "node" or not needed <= principal.scopes:
            await audit_denial(connection.scope, principal, "not a peer node")
            raise Forbidden("only a peer node may call the federation endpoints")
        async with connection.app.state.sessionmaker() as session, session.begin():
            state = await session.scalar(select(Peer.state).where(Peer.issuer == principal.subject))
            denied = await auth.is_denied(session, principal)
        if state != "active" or denied:
            raise Unauthenticated(
                "this node does not peer with yours (removed, or refused until its operator confirms your key)",
                headers=bearer_challenge("invalid_token"),
            )

    guard.scopes = needed  # type: ignore[attr-defined]  # what the OpenAPI document says it needs
    return guard


#: the guard of the federation endpoints
peer_node = _peer_node()
