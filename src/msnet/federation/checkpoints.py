"""Witnessed audit: signed checkpoints of the audit chain, exchanged between peers.

A checkpoint says how many entries the chain had (``size``) and the hash of the last one (its head
hash), as a note in the layout of a C2SP checkpoint (``tlog-checkpoint``), one line each::

    http://node-a.example/audit         the origin: the node's issuer and /audit
    1234                                the size, in decimal
    q1v0…=                              the head hash, base64 (standard alphabet) of its 32 bytes
    signed-at 2026-12-07T12:00:00Z      an extension line: when it was signed

signed with the node key as a compact JWS (RFC 7515; ``alg`` RS256, ``typ`` msnet-checkpoint+jws, the
key's ``kid``) instead of a signed-note signature line, which has no RSA type: a peer verifies it with
the node's published keys (its JWKS, in its node document).

The delivery worker (job ``audit.checkpoints``) signs one every ``MSNET_CHECKPOINT_INTERVAL`` seconds
when the chain has grown, and one more at shutdown; ``GET /federation/v1/checkpoint`` serves the
latest. It also fetches each active peer's latest and keeps it once verified: signed by a key of the
peer's, for the peer's chain, and neither shorter than one held nor another hash for a size held. A
checkpoint refused is logged and audited (actor ``node:ISSUER``, outcome ``denied``).

``GET /federation/v1/witnessed`` gives a peer the checkpoints of its own chain kept here, so that
``msnet audit verify`` on it checks its chain against what others witnessed
(:func:`witnessed_of_this_node`): the schema owner or a superuser can rewrite the chain and every
hash after the change, but cannot make the hash at a witnessed size come out as before.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import msgspec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from msgspec import Meta
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.api import Struct, decode_cursor, encode_cursor
from msnet.audit.models import AuditCheckpoint, AuditHead
from msnet.audit.service import Anchor, AuditEvent, record
from msnet.auth.keys import ALG, KeyRing, load_key_ring
from msnet.auth.models import SigningKey
from msnet.federation.client import PeerClient, PeerError
from msnet.federation.models import Peer
from msnet.logs import get_logger
from msnet.settings import Settings

log = get_logger("msnet.federation.checkpoints")

PATH = "/federation/v1/checkpoint"
WITNESSED_PATH = "/federation/v1/witnessed"
TYP = "msnet-checkpoint+jws"
#: checkpoints of the calling node's chain on one page of ``/federation/v1/witnessed``, at most
MAX_LIMIT = 1000
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
#: the largest size a checkpoint may give: what the database's bigint holds (a larger one from a peer
#: would fail the insert and stop the job's round before the next peers are fetched)
MAX_SIZE = 2**63 - 1
_SIGNED_AT = re.compile(r"signed-at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


class BadCheckpoint(Exception):
    """A checkpoint that is malformed, not signed by a key of the node it is of, or not for its chain."""


class SignedCheckpoint(Struct):
    """A signed checkpoint of a node's audit chain. `checkpoint` is what is signed and all a reader
    should trust; the other members repeat what it says."""

    issuer: Annotated[
        str, Meta(description="The node whose audit chain it is.", examples=["https://msnet.au.int"])
    ]
    size: Annotated[int, Meta(ge=0, description="How many entries the chain had.", examples=[18234])]
    hash: Annotated[
        str,
        Meta(
            description="The hash of the chain's last entry (hex; 64 zeros when empty).",
            examples=["9f2c4e0b7a1d3f5e8c6b2a4d0e9f7c5b3a1d8e6f4c2b0a9e7d5c3b1a0f8e6d4c"],
        ),
    ]
    signed_at: Annotated[datetime, Meta(examples=["2026-12-07T12:05:00Z"])]
    checkpoint: Annotated[
        str,
        Meta(
            description="A compact JWS (RS256, typ msnet-checkpoint+jws) signed by the node's key, whose "
            "payload is the checkpoint note: origin (issuer and /audit), size, head hash in base64, "
            "and `signed-at` with the time, one a line.",
            examples=["eyJhbGciOiJSUzI1NiIsInR5cCI6Im1zbmV0LWNoZWNrcG9pbnQrandzIn0.eyJub3RlIjoiLi4uIn0.c2ln"],
        ),
    ]


class CheckpointPage(Struct):
    """A page of the checkpoints of the calling node's audit chain that this node holds, oldest first;
    `next_cursor` reads the next page (null on the last)."""

    items: list[SignedCheckpoint]
    next_cursor: Annotated[str | None, Meta(examples=["MjAyNi0xMi0wN1QxMjowNTowMFo"])]
    total: Annotated[int, Meta(examples=[3])]


@dataclass(frozen=True)
class Checkpoint:
    issuer: str
    size: int
    hash: str
    signed_at: datetime
    jws: str

    @property
    def name(self) -> str:
        """How reports name it: ``checkpoint 1234 of ISSUER (signed 2026-12-07T12:00:00Z)``."""
        return f"checkpoint {self.size} of {self.issuer} (signed {_instant(self.signed_at)})"

    def signed(self) -> SignedCheckpoint:
        return SignedCheckpoint(
            issuer=self.issuer, size=self.size, hash=self.hash, signed_at=self.signed_at, checkpoint=self.jws
        )

    @classmethod
    def of_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.issuer, row.size, row.hash, row.signed_at, row.jws)


def origin(issuer: str) -> str:
    """The origin line of ``issuer``'s checkpoints."""
    return f"{issuer}/audit"


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def note(issuer: str, size: int, head_hash: str, signed_at: datetime) -> str:
    """The checkpoint note that is signed."""
    encoded = base64.b64encode(bytes.fromhex(head_hash)).decode()
    return f"{origin(issuer)}\n{size}\n{encoded}\nsigned-at {_instant(signed_at)}\n"


def make(issuer: str, size: int, head_hash: str, key: RSAKey) -> Checkpoint:
    """A checkpoint of ``issuer``'s chain at ``size`` entries, signed now with ``key``."""
    signed_at = datetime.now(UTC).replace(microsecond=0)
    header = {"alg": ALG, "typ": TYP, "kid": key.kid}
    token = jws.serialize_compact(
        header, note(issuer, size, head_hash, signed_at).encode(), key, algorithms=[ALG]
    )
    return Checkpoint(issuer, size, head_hash, signed_at, token)


def read(token: str, issuer: str, keys: KeySet) -> Checkpoint:
    """The checkpoint ``token`` says, once it verifies with one of ``keys`` (chosen by its ``kid``,
    the algorithm fixed) and is a checkpoint of ``issuer``'s chain. Raises ``BadCheckpoint``."""
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise BadCheckpoint(f"not a JWS ({type(exc).__name__})") from None
    if header.get("typ") != TYP or header.get("alg") != ALG:
        raise BadCheckpoint(f"not a checkpoint (typ {header.get('typ')!r}, alg {header.get('alg')!r})")
    kid = header.get("kid")
    by_kid = [key for key in keys.keys if key.kid == kid]
    if not isinstance(kid, str) or len(by_kid) != 1:
        raise BadCheckpoint(f"signed with key {kid!r}, not one of {issuer}'s")
    try:
        body = jws.deserialize_compact(token, by_kid[0], algorithms=[ALG]).payload.decode()
    except (JoseError, ValueError) as exc:
        raise BadCheckpoint(
            f"its signature does not verify with {issuer}'s key {kid} ({type(exc).__name__})"
        ) from None
    lines = body.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise BadCheckpoint("its note is not four lines: origin, size, hash and signed-at")
    if lines[0] != origin(issuer):
        raise BadCheckpoint(f"it is of the chain {lines[0]!r}, not {origin(issuer)!r}")
    signed_at = _SIGNED_AT.fullmatch(lines[3])
    if not _SIZE.fullmatch(lines[1]) or int(lines[1]) > MAX_SIZE or signed_at is None:
        raise BadCheckpoint("its size or its signed-at line is malformed")
    try:
        raw = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32 or base64.b64encode(raw).decode() != lines[2]:
        raise BadCheckpoint("its hash is not 32 bytes in base64")
    at = datetime.strptime(signed_at.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return Checkpoint(issuer, int(lines[1]), raw.hex(), at, token)


# --- this node's own ------------------------------------------------------------------------------


async def sign(session: AsyncSession, issuer: str, key: RSAKey) -> Checkpoint | None:
    """A checkpoint of this node's chain as its head is now, signed with ``key`` and kept; None when
    one of that size is held already (the chain has not grown)."""
    head = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1))
    ).one_or_none()
    if head is None:
        raise RuntimeError("the audit head row is missing: no checkpoint can be signed")
    held = await session.scalar(
        select(AuditCheckpoint.size).where(AuditCheckpoint.issuer == issuer, AuditCheckpoint.size == head.seq)
    )
    if held is not None:
        return None
    checkpoint = make(issuer, head.seq, head.hash, key)
    await _keep(session, checkpoint)
    return checkpoint


async def _keep(session: AsyncSession, checkpoint: Checkpoint) -> None:
    await session.execute(
        insert(AuditCheckpoint)
        .values(
            issuer=checkpoint.issuer,
            size=checkpoint.size,
            hash=checkpoint.hash,
            signed_at=checkpoint.signed_at,
            jws=checkpoint.jws,
        )
        .on_conflict_do_nothing()
    )


async def latest(session: AsyncSession, issuer: str) -> Checkpoint | None:
    """The largest checkpoint held of ``issuer``'s chain."""
    row = await session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.issuer == issuer)
        .order_by(AuditCheckpoint.size.desc())
        .limit(1)
    )
    return None if row is None else Checkpoint.of_row(row)


async def held_of(session: AsyncSession, issuer: str, *, limit: int, cursor: str | None) -> CheckpointPage:
    """The checkpoints of ``issuer``'s chain held here, smallest first, keyset-paginated on the size."""
    conditions = [AuditCheckpoint.issuer == issuer]
    total = await session.scalar(select(func.count()).select_from(AuditCheckpoint).where(*conditions))
    if cursor:
        (after,) = decode_cursor(cursor, int)
        conditions.append(AuditCheckpoint.size > after)
    rows = list(
        await session.scalars(
            select(AuditCheckpoint).where(*conditions).order_by(AuditCheckpoint.size).limit(limit + 1)
        )
    )
    items = [Checkpoint.of_row(row).signed() for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].size) if len(rows) > limit else None
    return CheckpointPage(items=items, next_cursor=next_cursor, total=total or 0)


# --- the peers' -----------------------------------------------------------------------------------


@dataclass
class Witness:
    """What the job ``audit.checkpoints`` keeps between its steps: this node's keys and a client for
    each peer (its access token kept)."""

    sessionmaker: async_sessionmaker
    settings: Settings
    ring: KeyRing | None = None
    clients: dict[str, PeerClient] = field(default_factory=dict)

    async def keys(self) -> KeyRing:
        if self.ring is None or self.ring.stale():
            ring = await load_key_ring(self.sessionmaker, self.settings, self.ring)
            if self.ring is None or ring.signing.kid != self.ring.signing.kid:
                await self.close()  # tokens are asked for with the node's current key
            self.ring = ring
        return self.ring

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()

    async def sign(self) -> Checkpoint | None:
        """Sign a checkpoint of this node's chain if it has grown since the last one."""
        ring = await self.keys()
        async with self.sessionmaker() as session, session.begin():
            checkpoint = await sign(session, self.settings.issuer, ring.signing)
        if checkpoint is not None:
            log.info("audit checkpoint signed", size=checkpoint.size)
        return checkpoint

    async def fetch_all(self) -> None:
        """Fetch every active peer's latest checkpoint and keep it once verified."""
        async with self.sessionmaker() as session, session.begin():
            peers = list(
                await session.scalars(select(Peer).where(Peer.state == "active").order_by(Peer.issuer))
            )
        for gone in set(self.clients) - {p.issuer for p in peers}:
            await self.clients.pop(gone).aclose()
        for peer in peers:
            await self.fetch(peer.issuer, peer.jwks)

    async def fetch(self, issuer: str, jwks: dict[str, Any]) -> Checkpoint | None:
        """``issuer``'s latest checkpoint, kept here if it verifies and is new; None otherwise (a peer
        that has none yet, cannot be reached, or sends one that is refused)."""
        ring = await self.keys()
        client = self.clients.get(issuer)
        if client is None:
            client = self.clients[issuer] = PeerClient(self.settings, ring, issuer)
        try:
            response = await client.get(PATH)
        except (httpx.HTTPError, PeerError) as exc:
            log.info("peer's checkpoint not fetched", peer=issuer, error=str(exc))
            return None
        if response.status_code != 200:
            log.info("peer's checkpoint not fetched", peer=issuer, status=response.status_code)
            return None
        async with self.sessionmaker() as session, session.begin():
            try:
                served = msgspec.json.decode(response.content, type=SignedCheckpoint)
                checkpoint = read(served.checkpoint, issuer, KeySet.import_key_set(jwks))
                if not await _new(session, checkpoint):
                    return None
            except (BadCheckpoint, msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
                reason = str(exc)
                log.warning("peer's checkpoint refused", peer=issuer, reason=reason)
                await record(
                    session,
                    AuditEvent(
                        organisation_id=None,
                        actor=f"node:{issuer}",
                        action="checkpoint.refuse",
                        resource_type="checkpoint",
                        resource_id=issuer,
                        outcome="denied",
                        payload={"reason": reason},
                    ),
                )
                return None
            await _keep(session, checkpoint)
        return checkpoint


async def _new(session: AsyncSession, checkpoint: Checkpoint) -> bool:
    """Whether ``checkpoint`` (verified) is one to keep: False when it is held already; raises
    ``BadCheckpoint`` when it contradicts one held (another hash for a size held, or fewer entries
    than one held: the chain was rewritten, or went back)."""
    held = await latest(session, checkpoint.issuer)
    if held is None or checkpoint.size > held.size:
        return True
    if checkpoint.size < held.size:
        raise BadCheckpoint(
            f"its chain went back from {held.size} entries ({held.name}) to {checkpoint.size}"
        )
    if checkpoint.hash != held.hash:
        raise BadCheckpoint(f"it gives another hash for entry {held.size} than {held.name}")
    return False


# --- what the peers witnessed of this node (msnet audit verify) ----------------------------------


@dataclass
class Witnessed:
    """What the peers hold of this node's chain: the checkpoints that verify (as anchors of
    ``msnet.audit.service.verify``), the peers asked, and what went wrong (a peer out of reach, a
    checkpoint that does not verify)."""

    anchors: list[Anchor] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def witnessed_of_this_node(sessionmaker: async_sessionmaker, settings: Settings) -> Witnessed:
    """Ask every active peer for the checkpoints of this node's chain it holds; keep those that
    verify with one of this node's keys (any it ever had, retired ones too)."""
    ring = await load_key_ring(sessionmaker, settings)
    async with sessionmaker() as session, session.begin():
        peers = list(
            await session.scalars(select(Peer.issuer).where(Peer.state == "active").order_by(Peer.issuer))
        )
        own = KeySet([RSAKey.import_key(jwk) for jwk in await session.scalars(select(SigningKey.public_jwk))])
    witnessed = Witnessed()
    for peer in peers:
        witnessed.asked.append(peer)
        async with PeerClient(settings, ring, peer) as client:
            try:
                pages = [page async for page in _pages(client)]
            except (httpx.HTTPError, PeerError, msgspec.ValidationError, msgspec.DecodeError) as exc:
                witnessed.problems.append(f"{peer} could not be asked: {exc}")
                continue
        for page in pages:
            for served in page.items:
                try:
                    checkpoint = read(served.checkpoint, settings.issuer, own)
                except BadCheckpoint as exc:
                    witnessed.problems.append(
                        f"{peer} holds a checkpoint of size {served.size} that is refused: {exc}"
                    )
                    continue
                witnessed.anchors.append(
                    Anchor(checkpoint.size, checkpoint.hash, f"{checkpoint.name}, held by {peer}")
                )
    return witnessed


async def _pages(client: PeerClient) -> Any:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": MAX_LIMIT}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(WITNESSED_PATH, params)
        if response.status_code != 200:
            raise PeerError(f"{client.peer}{WITNESSED_PATH} answered {response.status_code}", response)
        page = msgspec.json.decode(response.content, type=CheckpointPage)
        yield page
        cursor = page.next_cursor
        if cursor is None:
            return
