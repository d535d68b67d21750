"""Messages between nodes: one node tells another of a change the other must act on (a request
addressed to one of its offices, a response to one of its requests...).

The sender queues a message in the transaction of the change (:func:`send`): the outbox keeps it
until the worker's :class:`Delivery` has signed it with the node's key (a JWS, ``typ``
``msnet-message+jws``) and posted it to the peer's ``POST /federation/v1/inbox``, retrying with the
outbox's backoff. Its id derives from the peer, its kind and its key, so a change queued twice is one
message, and every attempt carries the same id.

The receiver (:class:`InboxController`) takes a message only from an authenticated peer node (its
access token, scope ``federation``), signed by that same peer's key, addressed to this node, of a kind
a handler is registered for (:func:`handles`). The handler runs in the request's transaction, which
also records the message's id (``federation_messages``): a message delivered again is answered 200
without effect; a refused one (a 4xx problem, the handler's error) writes nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import httpx
import msgspec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.auth.keys import ALG, KeyRing, load_key_ring
from msnet.auth.principal import NODE_SCOPE, Principal, provide_principal, requires
from msnet.db.engine import ORG_KEY
from msnet.errors import BadRequest, Conflict, Forbidden, InvalidInput
from msnet.federation.client import PeerClient, PeerError
from msnet.federation.models import FederationMessage, Peer
from msnet.federation.service import peer_node
from msnet.logs import get_logger
from msnet.outbox.service import Claimed, enqueue_peer
from msnet.outbox.worker import DeliveryError
from msnet.problems import problem_responses
from msnet.settings import Settings

PATH = "/federation/v1/inbox"
MESSAGE_TYPE = "msnet-message+jws"
MEDIA_TYPE = "application/jose"
#: how far a message's ``iat`` may be from this node's clock (seconds): it is signed when sent
LEEWAY = 300
#: the modules whose handlers the inbox dispatches to (imported when the first message arrives)
MODULES: tuple[str, ...] = ("msnet.federation.requests",)
#: the statuses of a peer's answer after which the message is sent again (the others refuse it for good)
RETRIED = frozenset({401, 403, 408, 425, 429})
log = get_logger("msnet.federation.inbox")


class Claims(msgspec.Struct, forbid_unknown_fields=True):
    """What a message's JWS carries."""

    id: UUID
    kind: str
    sender: str = msgspec.field(name="from")
    to: str
    iat: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Sender:
    """The peer node a message came from."""

    issuer: str
    id: UUID


@dataclass(frozen=True)
class Message:
    """A message verified: its id, kind and body, the peer that sent it, and that peer's principal here
    (a node acting for the first of its organisations: see ``federation.contact.acting_for`` to act for
    another)."""

    id: UUID
    kind: str
    sender: Sender
    body: dict[str, Any]
    node: Principal


Handler = Callable[[AsyncSession, Message], Awaitable[None]]
_handlers: dict[str, Handler] = {}
_loaded = False


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the messages of ``kind``."""

    def register(handler: Handler) -> Handler:
        if kind in _handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        _handlers[kind] = handler
        return handler

    return register


def handler_for(kind: str) -> Handler | None:
    global _loaded
    if not _loaded:
        for module in MODULES:
            importlib.import_module(module)
        _loaded = True
    return _handlers.get(kind)


# --- sending ---------------------------------------------------------------------------------


async def send(
    session: AsyncSession,
    *,
    to: str,
    kind: str,
    key: str,
    body: dict[str, Any],
    subject: str | None = None,
    organisation: UUID | None = None,
) -> UUID:
    """Queue, in the caller's transaction, the message ``kind`` with ``body`` (JSON builtins, global ids
    only) for the peer ``to`` (its issuer). Sent once under (``to``, ``kind``, ``key``), whatever the
    number of calls; the messages for one peer about one ``subject`` (default: ``key``) arrive in the
    order they were queued. ``organisation``: on whose behalf (its outbox; default: the organisation
    the session acts for). A ``to`` that is no active peer is a 409. Returns the message's id."""
    owner = organisation or session.info.get(ORG_KEY)
    if owner is None:
        raise ValueError("send needs the organisation the message is sent for")
    if await session.scalar(select(Peer.id).where(Peer.issuer == to, Peer.state == "active")) is None:
        raise Conflict(f"{to} is not a peer of this node (or is refused until its operator confirms its key)")
    return await enqueue_peer(
        session, organisation_id=owner, to=to, kind=kind, key=key, subject=subject or key, body=body
    )


def sign(key: RSAKey, claims: dict[str, Any]) -> str:
    header = {"alg": ALG, "kid": key.kid, "typ": MESSAGE_TYPE}
    return jws.serialize_compact(header, msgspec.json.encode(claims), key, algorithms=[ALG])


class Delivery:
    """The outbox worker's delivery of ``peer`` messages: each signed with this node's current key when
    it is sent, and posted with this node's access token of the peer. A peer that cannot be reached, or
    answers 5xx, 401, 403, 408, 425 or 429, gets it again later; another 4xx refuses it for good."""

    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.ring: KeyRing | None = None
        self.clients: dict[str, PeerClient] = {}

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()

    async def _keys(self) -> KeyRing:
        if self.ring is None or self.ring.stale():
            ring = await load_key_ring(self.sessionmaker, self.settings)
            if self.ring is None or ring.signing.kid != self.ring.signing.kid:
                await self.close()  # tokens are asked for with the node's current key
            self.ring = ring
        return self.ring

    async def __call__(self, message: Claimed) -> None:
        payload = message.payload
        to = payload["to"]
        async with self.sessionmaker() as session, session.begin():
            state = await session.scalar(select(Peer.state).where(Peer.issuer == to))
        if state is None:
            raise DeliveryError(f"{to} is no longer a peer", permanent=True)
        if state != "active":
            raise DeliveryError(f"{to} is refused until its operator confirms its key")
        ring = await self._keys()
        claims = {
            "id": str(message.id),
            "kind": payload["kind"],
            "from": self.settings.issuer,
            "to": to,
            "iat": int(time.time()),
            "body": payload["body"],
        }
        if to not in self.clients:
            self.clients[to] = PeerClient(self.settings, ring, to)
        try:
            response = await self.clients[to].request(
                "POST", PATH, content=sign(ring.signing, claims), headers={"content-type": MEDIA_TYPE}
            )
        except (httpx.HTTPError, PeerError) as exc:
            raise DeliveryError(f"{to}: {type(exc).__name__}") from None
        if response.status_code == 200:
            return
        permanent = 400 <= response.status_code < 500 and response.status_code not in RETRIED
        detail = _detail(response)
        if permanent:
            log.warning("peer refused a message", peer=to, kind=payload["kind"], status=response.status_code)
        raise DeliveryError(f"{to} answered {response.status_code}: {detail}", permanent=permanent)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except (ValueError, AttributeError):
        return ""


# --- receiving -------------------------------------------------------------------------------


class Received(msgspec.Struct):
    """A message taken: applied now, or applied before (a delivery again, without effect)."""

    id: UUID
    status: Literal["applied", "duplicate"]


def verify(token: bytes, keys: KeySet, sender: str, own_issuer: str) -> Claims:
    """The claims of ``token`` if it is a message signed by ``sender``'s key for this node, sent just
    now; :class:`BadRequest` (or :class:`Forbidden` for another node's message) naming what is wrong."""
    try:
        header = jws.extract_compact(token).protected
    except (JoseError, ValueError) as exc:
        raise BadRequest(f"not a JWS in the compact serialization ({exc.__class__.__name__})") from None
    if header.get("typ") != MESSAGE_TYPE or header.get("alg") != ALG:
        raise BadRequest(f"not a message: typ must be {MESSAGE_TYPE} and alg {ALG}")
    if not any(k.kid == header.get("kid") for k in keys.keys):
        raise BadRequest(f"signed with key {header.get('kid')!r}, not one of {sender}'s")
    try:
        payload = jws.deserialize_compact(token, keys, algorithms=[ALG]).payload
    except (JoseError, ValueError) as exc:
        raise BadRequest(f"the signature does not verify ({exc.__class__.__name__})") from None
    try:
        claims = msgspec.json.decode(payload, type=Claims)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"a malformed message ({exc})") from None
    if claims.sender != sender:
        raise Forbidden(f"a message from {claims.sender} sent by {sender}: a node sends only its own")
    if claims.to != own_issuer:
        raise BadRequest(f"a message for {claims.to}, not for this node ({own_issuer})")
    if abs(time.time() - claims.iat) > LEEWAY:
        raise BadRequest(f"a message signed at {claims.iat}, more than {LEEWAY} s from this node's clock")
    return claims


def digest(claims: Claims) -> str:
    return hashlib.sha256(msgspec.json.encode([claims.kind, claims.body], order="sorted")).hexdigest()


async def receive(session: AsyncSession, node: Principal, token: bytes, own_issuer: str) -> Received:
    """Verify and apply a message that the peer ``node`` delivered (or find it was applied before)."""
    peer = await session.scalar(select(Peer).where(Peer.issuer == node.subject))
    if peer is None:
        raise Forbidden(f"{node.subject} is not a peer of this node")
    claims = verify(token, KeySet.import_key_set(peer.jwks), peer.issuer, own_issuer)
    handler = handler_for(claims.kind)
    if handler is None:
        raise InvalidInput.field("kind", f"this node takes no messages of kind {claims.kind!r}")
    content = digest(claims)
    taken = await session.scalar(
        insert(FederationMessage)
        .values(sender=peer.issuer, id=claims.id, kind=claims.kind, digest=content)
        .on_conflict_do_nothing()
        .returning(FederationMessage.id)
    )
    if taken is None:
        before = await session.scalar(
            select(FederationMessage.digest).where(
                FederationMessage.sender == peer.issuer, FederationMessage.id == claims.id
            )
        )
        if before != content:
            raise Conflict(f"message {claims.id} was taken before with other content")
        return Received(claims.id, "duplicate")
    await handler(
        session,
        Message(
            id=claims.id,
            kind=claims.kind,
            sender=Sender(peer.issuer, peer.id),
            body=claims.body,
            node=node,
        ),
    )
    return Received(claims.id, "applied")


class InboxController(Controller):
    path = PATH
    tags = ["federation"]
    guards = [peer_node, requires(NODE_SCOPE)]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/",
        summary="A peer node's message for this node (signed, applied once)",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def post_message(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Received:
        """For peer nodes (an access token with the scope `federation`): one message, the body a JWS in
        the compact serialization (`application/jose`, `typ` `msnet-message+jws`) whose payload holds
        `id`, `kind`, `from`, `to`, `iat` and `body`, signed by the calling node's key and addressed to
        this node, of a kind this node takes. It is applied in
        this request's transaction; a message whose id was taken before is answered again without
        effect (`duplicate`). A message that is not signed by the caller, not for this node, signed
        more than five minutes away from this node's clock, of an unknown kind (422) or refused by
        this node (a request it does not hold, say) changes nothing."""
        return await receive(db, principal, await request.body(), request.app.state.settings.issuer)
