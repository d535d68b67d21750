"""The pull (the job ``federation.pull``, ``msnet.jobs.federation``): it reads each active peer's change feed and applies it here.

A peer is pulled soon after it pokes this node (``POST /federation/v1/poke``) and at least every
``MSNET_FEDERATION_POLL_INTERVAL`` seconds. Each page is applied in one transaction that also moves
the peer's cursor, with the peer's row locked and its cursor checked, so two workers never apply a
page twice. A page with a bad item is rejected whole, its cursor kept: the error goes to the peer's
row (``msnet peer status``), the log and ``/metrics``, and the peer is tried again after a backoff
that doubles up to the poll interval (a poke from it ends the backoff). An item signed by a key this
node does not know refetches the peer's node document, at most every few seconds, and the page is
tried once more. A cursor the peer no longer knows (410) starts the pull again from the start: a
snapshot, applied idempotently.

The same job pokes every active peer when this node's own change log has grown since it last looked
(best effort: a peer that is not told pulls at its next interval anyway).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from joserfc.jwk import KeySet
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Text, cast, exists, func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.auth.keys import KeyRing, load_key_ring
from msnet.db.changes import Change
from msnet.federation import service
from msnet.federation.apply import Applied, PageRejected, UnknownKey, apply_page
from msnet.federation.client import PeerClient, PeerError
from msnet.federation.feed import ChangePage
from msnet.federation.models import Peer
from msnet.logs import get_logger
from msnet.middleware import Metrics
from msnet.settings import Settings

CHANGES = "/federation/v1/changes"
POKE = "/federation/v1/poke"
PAGE_LIMIT = 200
#: pages read in one pull at most; the next pull goes on where it stopped
MAX_PAGES = 1000
#: seconds between two looks for a peer due, or a change of this node's to poke the peers about
WAKE = 0.25
#: seconds between two refetches of a peer's node document for a key it signs with and this node does
#: not know
REFETCH_INTERVAL = 5.0
log = get_logger("msnet.federation.sync")
#: the oldest transaction still running: the feed reads the changes of older ones only
HORIZON = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


class PullFailed(Exception):
    """The peer did not give a page this node could read."""


class PullStopped(Exception):
    """The peer was removed, refused, or another worker moved its cursor meanwhile."""


@dataclass
class FederationMetrics:
    pulls: Counter
    applied: Counter
    lag: Gauge
    failures: Gauge


_METRICS: weakref.WeakKeyDictionary[Metrics, FederationMetrics] = weakref.WeakKeyDictionary()


def metrics_of(metrics: Metrics) -> FederationMetrics:
    """The federation's metrics in the node's registry (made once a registry)."""
    if metrics not in _METRICS:
        registry = metrics.registry
        _METRICS[metrics] = FederationMetrics(
            pulls=Counter(
                "msnet_federation_pulls",
                "Pulls of a peer's change feed by outcome (ok, failed).",
                ("peer", "outcome"),
                registry=registry,
            ),
            applied=Counter(
                "msnet_federation_items_applied",
                "Items of a peer's feed applied here (new versions and tombstones).",
                ("peer",),
                registry=registry,
            ),
            lag=Gauge(
                "msnet_federation_lag_seconds",
                "Seconds since a peer's change feed was last read to its end.",
                ("peer",),
                registry=registry,
                multiprocess_mode="min",
            ),
            failures=Gauge(
                "msnet_federation_failures",
                "Failed pulls of a peer in a row (0 once one succeeds).",
                ("peer",),
                registry=registry,
                multiprocess_mode="max",
            ),
        )
    return _METRICS[metrics]


def backoff(failures: int, settings: Settings) -> float:
    """Seconds before a peer that failed ``failures`` times in a row is tried again."""
    return float(min(2 ** max(failures - 1, 0), settings.federation_poll_interval))


def due(peer: Peer, now: datetime, settings: Settings) -> bool:
    """Whether ``peer`` is to be pulled now: never yet, poked since its last pull, or its interval
    past; not while it backs off, unless it poked since it last failed."""
    poked_since_failure = peer.poked_at is not None and (
        peer.last_error_at is None or peer.poked_at > peer.last_error_at
    )
    if peer.next_attempt_at is not None and peer.next_attempt_at > now and not poked_since_failure:
        return False
    if peer.last_sync_at is None:
        return True
    if peer.poked_at is not None and peer.poked_at >= peer.last_sync_at:
        return True
    return now - peer.last_sync_at >= timedelta(seconds=settings.federation_poll_interval)


@dataclass
class Puller:
    """What the job keeps between its steps: this node's keys, a client for each peer (its access
    token kept), when each peer's keys were last refetched, and the horizon of this node's log when
    last looked."""

    sessionmaker: async_sessionmaker
    settings: Settings
    metrics: FederationMetrics
    ring: KeyRing | None = None
    clients: dict[str, PeerClient] = field(default_factory=dict)
    refetched: dict[str, float] = field(default_factory=dict)
    horizon: int | None = None
    page_limit: int = PAGE_LIMIT

    async def keys(self) -> KeyRing:
        if self.ring is None or self.ring.stale():
            ring = await load_key_ring(self.sessionmaker, self.settings)
            if self.ring is None or ring.signing.kid != self.ring.signing.kid:
                await self.close()  # tokens are asked for with the node's current key
            self.ring = ring
        return self.ring

    def client(self, peer: str) -> PeerClient:
        assert self.ring is not None
        if peer not in self.clients:
            self.clients[peer] = PeerClient(self.settings, self.ring, peer)
        return self.clients[peer]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()

    async def step(self) -> None:
        """Pull every peer due, and poke the peers if this node has changed since the last step."""
        async with self.sessionmaker() as session, session.begin():
            peers = list(
                await session.scalars(select(Peer).where(Peer.state == "active").order_by(Peer.issuer))
            )
        for gone in set(self.clients) - {p.issuer for p in peers}:  # removed or refused
            await self.clients.pop(gone).aclose()
        if not peers:  # a node on its own: nothing to pull, no one to poke
            return
        await self.keys()
        now = datetime.now(UTC)
        for peer in peers:
            if peer.last_sync_at is not None:
                self.metrics.lag.labels(peer.issuer).set(max(0.0, (now - peer.last_sync_at).total_seconds()))
        await asyncio.gather(*(self.pull(p.issuer) for p in peers if due(p, now, self.settings)))
        if await self.changed_here():
            await asyncio.gather(*(self.poke(p.issuer) for p in peers))

    async def changed_here(self) -> bool:
        """Whether changes of this node's own records became readable in its feed since the last
        look (the first look says yes): a change is read once the horizon, the oldest transaction
        still running, has passed it, so this looks between the horizon then and now."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(text("SELECT set_config('msnet.audience', '{}', true)"))
            horizon = await session.scalar(select(HORIZON))
            since = self.horizon
            self.horizon = horizon
            if since is None:
                return True
            return bool(
                await session.scalar(
                    select(
                        exists().where(
                            Change.txid >= since, Change.txid < horizon, Change.origin == self.settings.issuer
                        )
                    )
                )
            )

    async def poke(self, peer: str) -> None:
        try:
            response = await self.client(peer).post(POKE)
            if response.status_code != 202:
                log.info("peer did not take a poke", peer=peer, status=response.status_code)
        except (httpx.HTTPError, PeerError) as exc:
            log.info("peer could not be poked", peer=peer, error=str(exc))

    async def pull(self, peer: str) -> None:
        """Read ``peer``'s feed from its cursor to its end (or MAX_PAGES pages) and apply it."""
        started = datetime.now(UTC)
        try:
            applied = await self._pull(peer)
        except PullStopped as exc:
            log.info("pull stopped", peer=peer, reason=str(exc))
            return
        except Exception as exc:
            await self._failed(peer, exc)
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Peer)
                .where(Peer.issuer == peer)
                .values(last_sync_at=started, failures=0, last_error=None, next_attempt_at=None)
            )
        self.metrics.pulls.labels(peer, "ok").inc()
        self.metrics.failures.labels(peer).set(0)
        self.metrics.lag.labels(peer).set(0)
        if applied:
            log.info("peer pulled", peer=peer, applied=applied)

    async def _pull(self, peer: str) -> int:
        """Apply pages from the stored cursor on; each next page is read while the one before it is
        being applied (it is applied only after it, so a failure leaves the cursor where it was)."""
        async with self.sessionmaker() as session:
            stored = await session.scalar(select(Peer.cursor).where(Peer.issuer == peer))
        applied = 0
        reading = asyncio.ensure_future(self._read(peer, stored))
        try:
            for _ in range(MAX_PAGES):
                page = await reading
                if page is None:  # 410: the peer no longer knows this cursor; read again from the start
                    log.warning("peer's cursor expired; reading its feed again from the start", peer=peer)
                    reading = asyncio.ensure_future(self._read(peer, None))
                    continue
                if page.more:
                    reading = asyncio.ensure_future(self._read(peer, page.next_cursor))
                result = await self._apply(peer, stored, page)
                applied += result.applied
                self.metrics.applied.labels(peer).inc(result.applied)
                stored = page.next_cursor
                if not page.more:
                    break
        finally:
            reading.cancel()  # a page read ahead and not applied is read again by the next pull
            await asyncio.gather(reading, return_exceptions=True)
        return applied

    async def _read(self, peer: str, cursor: str | None) -> ChangePage | None:
        params: dict[str, Any] = {"limit": self.page_limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await self.client(peer).get(CHANGES, params=params)
        if response.status_code == 410 and cursor is not None:
            return None
        if response.status_code != 200:
            detail = response.headers.get("content-type", "").endswith("json") and response.json().get(
                "detail"
            )
            raise PullFailed(
                f"{peer}{CHANGES} answered {response.status_code}" + (f": {detail}" if detail else "")
            )
        try:
            return msgspec.json.decode(response.content, type=ChangePage)
        except msgspec.DecodeError as exc:
            raise PullFailed(f"{peer}{CHANGES} answered a page this node cannot read ({exc})") from None

    async def _apply(self, peer: str, expected: str | None, page: ChangePage) -> Applied:
        try:
            return await self._apply_once(peer, expected, page)
        except UnknownKey:
            if time.monotonic() - self.refetched.get(peer, -REFETCH_INTERVAL) < REFETCH_INTERVAL:
                raise
            self.refetched[peer] = time.monotonic()
            async with self.sessionmaker() as session, session.begin():
                row = await session.scalar(select(Peer).where(Peer.issuer == peer))
                if row is None:
                    raise PullStopped("removed") from None
                await service.refresh_peer(session, row)
            return await self._apply_once(peer, expected, page)

    async def _apply_once(self, peer: str, expected: str | None, page: ChangePage) -> Applied:
        async with self.sessionmaker() as session, session.begin():
            row = await session.scalar(select(Peer).where(Peer.issuer == peer).with_for_update())
            if row is None or row.state != "active":
                raise PullStopped("removed or refused meanwhile")
            if row.cursor != expected:
                raise PullStopped("another worker pulled it meanwhile")
            result = await apply_page(session, peer, page.items, KeySet.import_key_set(row.jwks))
            row.cursor = page.next_cursor
            if result.newest is not None and (
                row.last_change_at is None or result.newest > row.last_change_at
            ):
                row.last_change_at = result.newest
        return result

    async def _failed(self, peer: str, exc: Exception) -> None:
        expected = isinstance(exc, PullFailed | PageRejected | PeerError | httpx.HTTPError)
        error = (
            f"{exc.__class__.__name__}: {exc}" if not isinstance(exc, PageRejected | PullFailed) else str(exc)
        )
        if expected:
            log.warning("pull failed", peer=peer, error=error)
        else:
            log.exception("pull failed", peer=peer, error=error)
        async with self.sessionmaker() as session, session.begin():
            row = await session.scalar(select(Peer).where(Peer.issuer == peer).with_for_update())
            if row is None:
                return
            row.failures += 1
            now = datetime.now(UTC)
            row.last_error = error[:2000]
            row.last_error_at = now
            row.next_attempt_at = now + timedelta(seconds=backoff(row.failures, self.settings))
            failures = row.failures
        self.metrics.pulls.labels(peer, "failed").inc()
        self.metrics.failures.labels(peer).set(failures)
