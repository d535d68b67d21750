"""Failed authentication, accounted for without one audit entry a failure, and a source that keeps
failing refused.

Every failure (a bearer token that does not verify, a revoked token, an OAuth endpoint's error) is
counted by its key: source address, reason, and the organisation and actor when they are known. Time
is cut into fixed intervals of MSNET_AUTH_FAILURE_WINDOW seconds. The first failure of a key in an
interval is recorded at once (an ``auth.failed`` entry counting 1, with its request's id) unless its
source is refused already; the others are counted in memory and recorded as one entry with their count when the interval closes, or when
the process stops. So a flood writes at most two entries a key an interval a process, whatever its
rate, and the counts of a key's entries add up to its failures exactly (each process records its
own). A failure's entry reads ``resource_type = "auth_failures"``, ``resource_id = "count=N
reason=R interval=START/PTnS"``.

A source with MSNET_AUTH_FAILURE_LIMIT failures in the current interval (of this process: each
counts its own) has its next failing attempts answered 429 with ``Retry-After`` (the seconds to the
interval's end) instead of 401, until the interval ends. Only failing attempts are refused: a valid
token or valid client credentials from that source are served as ever, so clients behind the same
address (a NAT, a proxy) are not locked out by one that keeps failing.

A refused source costs little: ``msnet.auth.middleware.RefusalGate``, the outermost layer, checks its
bearer tokens in memory and answers the failing ones itself, touching neither the database nor the
rest of the stack; and the ``Tarpit`` holds each such answer MSNET_AUTH_REFUSAL_DELAY seconds (at most
MSNET_AUTH_REFUSAL_HOLD_LIMIT at once), so a client that tries again when answered makes one attempt
a connection in that time, whatever its speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.audit.service import AuditEvent, RequestOrigin, record
from msnet.db.engine import ORG_KEY
from msnet.logs import get_logger

#: Keys (and sources) a process tracks an interval; past it, failures of new keys are counted under
#: one key without a source, and new sources are not refused: memory stays bounded under a flood from
#: many addresses.
MAX_KEYS = 10_000
log = get_logger("msnet.auth")


@dataclass(frozen=True, slots=True)
class FailureKey:
    """What failures are counted by: where from, why, and for whom when that is known."""

    source: str | None
    reason: str
    org_id: UUID | None = None
    actor: str = "anonymous"


@dataclass(frozen=True, slots=True)
class Verdict:
    """``first``: the key's first failure of the interval, to record at once. ``retry_after``: the
    source is refused for that many seconds (None: it is not)."""

    first: bool
    retry_after: int | None
    interval_start: int


@dataclass(frozen=True, slots=True)
class Tally:
    """Failures of a key in an interval not recorded yet."""

    key: FailureKey
    count: int
    interval_start: int


class FailureLedger:
    """This process's counts of failed authentications, by key and by source, for the current
    interval; and the tallies of closed intervals waiting to be recorded."""

    def __init__(self, window: int, limit: int, max_keys: int = MAX_KEYS) -> None:
        self.window = window
        self.limit = limit
        self.max_keys = max_keys
        self._index = 0
        self._unrecorded: dict[FailureKey, int] = {}  # failures after the first, this interval
        self._by_source: dict[str | None, int] = {}
        self._closed: list[Tally] = []

    def fail(self, key: FailureKey, now: float | None = None) -> Verdict:
        """Count one failure of ``key``: whether to record it at once, and whether its source is
        refused (it had ``limit`` failures or more in this interval before this one)."""
        now = time.time() if now is None else now
        self._roll(now)
        before = self._by_source.get(key.source, 0)
        if key.source in self._by_source or len(self._by_source) < self.max_keys:
            self._by_source[key.source] = before + 1
        retry_after = None
        if before >= self.limit:
            retry_after = max(1, math.ceil((self._index + 1) * self.window - now))
        first = False
        if key in self._unrecorded:
            self._unrecorded[key] += 1
        elif len(self._unrecorded) < self.max_keys:  # a refused attempt waits for the interval's tally
            first = retry_after is None
            self._unrecorded[key] = 0 if first else 1
        else:
            overflow = FailureKey(None, key.reason)
            self._unrecorded[overflow] = self._unrecorded.get(overflow, 0) + 1
        return Verdict(first, retry_after, self._index * self.window)

    def refusal(self, source: str | None, now: float | None = None) -> int | None:
        """Seconds until ``source`` is no longer refused (None: it is not refused)."""
        now = time.time() if now is None else now
        self._roll(now)
        if self._by_source.get(source, 0) < self.limit:
            return None
        return max(1, math.ceil((self._index + 1) * self.window - now))

    def take(self, now: float | None = None, *, everything: bool = False) -> list[Tally]:
        """The tallies of the intervals that have closed (with ``everything``, the current one's
        too: the process stops), handed over to be recorded."""
        self._roll(time.time() if now is None else now)
        if everything:
            self._close()
        taken, self._closed = self._closed, []
        return taken

    def give_back(self, tallies: list[Tally]) -> None:
        """Tallies that could not be recorded, to try again with the next ones."""
        self._closed[:0] = tallies

    def seconds_to_close(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return (math.floor(now / self.window) + 1) * self.window - now

    def _roll(self, now: float) -> None:
        index = int(now // self.window)
        if index != self._index:
            self._close()
            self._index = index

    def _close(self) -> None:
        start = self._index * self.window
        self._closed.extend(Tally(k, n, start) for k, n in self._unrecorded.items() if n)
        self._unrecorded = {}
        self._by_source = {}


class Tarpit:
    """Refused answers held ``delay`` seconds before they are sent: the wait costs no CPU, and a client
    that sends its next attempt when answered makes at most one a connection in that time. At most
    ``limit`` are held at once, so memory stays bounded; all are let go when the app stops, and none
    is held after (nor with a ``delay`` of 0). ``metrics`` shows how many are held, and how many
    were not for want of room."""

    def __init__(self, delay: float, limit: int, metrics: Any) -> None:
        self.delay = delay
        self.limit = limit
        self.metrics = metrics
        self._held: set[asyncio.Future[None]] = set()
        self._stopped = False

    async def hold(self) -> bool:
        """Wait ``delay`` seconds (or not at all, when there is nothing to wait for): True; False at
        once when ``limit`` answers are held already, to answer without waiting."""
        if self.delay <= 0 or self._stopped:
            return True
        if len(self._held) >= self.limit:
            self.metrics.auth_refusals_unheld.inc()
            return False
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.delay, _let_go, waiter)
        self._held.add(waiter)
        self.metrics.auth_refusals_held.inc()
        try:
            await waiter
        finally:
            timer.cancel()
            self._held.discard(waiter)
            self.metrics.auth_refusals_held.dec()
        return True

    def stop(self) -> None:
        self._stopped = True
        for waiter in self._held:
            _let_go(waiter)


def _let_go(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def failure_event(
    key: FailureKey, count: int, interval_start: int, window: int, request_id: str | None = None
) -> AuditEvent:
    """The ``auth.failed`` entry for ``count`` failures of ``key`` in the interval from
    ``interval_start`` (Unix seconds)."""
    start = datetime.fromtimestamp(interval_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return AuditEvent(
        organisation_id=key.org_id,
        actor=key.actor,
        action="auth.failed",
        resource_type="auth_failures",
        resource_id=f"count={count} reason={key.reason} interval={start}/PT{window}S",
        outcome="failure",
        request_id=request_id,
        source=key.source,
        payload={"count": count, "reason": key.reason, "interval_start": start, "window": window},
    )


def source_of(scope: Any) -> str | None:
    return RequestOrigin.of(scope).source


def note_failure(scope: Any, key: FailureKey) -> Verdict:
    """Count a failure of the request in ``scope`` on this process's ledger and in the metrics."""
    state = scope["app"].state
    verdict: Verdict = state.auth_failures.fail(key)
    state.metrics.auth_failures.labels(key.reason).inc()
    if verdict.retry_after is not None:
        state.metrics.auth_refusals.labels(key.reason).inc()
    return verdict


async def record_first(session: AsyncSession, scope: Any, key: FailureKey, verdict: Verdict) -> None:
    """Record the failure at once, in ``session``'s transaction, if it is its key's first of the
    interval (the others are recorded with their count when the interval closes)."""
    if verdict.first:
        window = scope["app"].state.auth_failures.window
        await record(
            session,
            failure_event(key, 1, verdict.interval_start, window, RequestOrigin.of(scope).request_id),
        )


async def account(scope: Any, key: FailureKey) -> Verdict:
    """Count the failure and, if it is its key's first of the interval, record it in a transaction of
    its own (before any of the request's own work, so it never waits for a second connection while
    holding one)."""
    verdict = note_failure(scope, key)
    if verdict.first:
        async with scope["app"].state.sessionmaker() as session:
            if key.org_id is not None:
                session.info[ORG_KEY] = key.org_id
            async with session.begin():
                await record_first(session, scope, key, verdict)
    return verdict


async def record_tallies(sessionmaker: async_sessionmaker, tallies: list[Tally], window: int) -> None:
    """One entry a tally, in a transaction an organisation (row-level security admits an entry for the
    transaction's organisation only, or without one when none is set)."""
    by_org: dict[UUID | None, list[Tally]] = {}
    for tally in tallies:
        by_org.setdefault(tally.key.org_id, []).append(tally)
    for org_id, group in by_org.items():
        async with sessionmaker() as session:
            if org_id is not None:
                session.info[ORG_KEY] = org_id
            async with session.begin():
                for tally in group:
                    await record(session, failure_event(tally.key, tally.count, tally.interval_start, window))


async def _record_closed(app: Litestar, ledger: FailureLedger, *, everything: bool = False) -> None:
    tallies = ledger.take(everything=everything)
    if not tallies:
        return
    try:
        await record_tallies(app.state.sessionmaker, tallies, ledger.window)
    except Exception:  # the database is away: keep them for the next interval
        ledger.give_back(tallies)
        log.warning("failed authentications could not be recorded yet", tallies=len(tallies))


async def _recorder(app: Litestar, ledger: FailureLedger, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ledger.seconds_to_close() + 1)
        await _record_closed(app, ledger)


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """This process's ledger and tarpit, and a task recording each interval's tallies when it closes;
    the open interval's are recorded when the app stops."""
    settings = app.state.settings
    ledger = FailureLedger(settings.auth_failure_window, settings.auth_failure_limit)
    app.state.auth_failures = ledger
    tarpit = Tarpit(settings.auth_refusal_delay, settings.auth_refusal_hold_limit, app.state.metrics)
    app.state.auth_tarpit = tarpit
    stop = asyncio.Event()
    task = asyncio.create_task(_recorder(app, ledger, stop))
    try:
        yield
    finally:
        tarpit.stop()
        stop.set()
        await task
        await _record_closed(app, ledger, everything=True)
