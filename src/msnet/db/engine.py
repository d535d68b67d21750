"""The service's engine, and the per-transaction organisation setting that row-level security reads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from msnet.db.embedded import LEAKPROOF_FUNCTIONS
from msnet.middleware import Metrics
from msnet.settings import Settings
from msnet.tracing import Tracing

ORG_KEY = "org_id"
DENY_KEYS = "deny_keys"  # a token's deny-list keys, checked in the same round trip
DENIED = "denied"
#: ``info`` of a session: a secret's hash to present (:func:`present`) in the next transaction's first
#: statement, as (setting, digest), instead of a round trip of its own; for that transaction only
PRESENT_KEY = "present"
_SET_ORG = text("SELECT set_config('msnet.org', :org, true)")
_SET_ORG_AND_PRESENT = text("SELECT set_config('msnet.org', :org, true), set_config(:setting, :digest, true)")
_SET_ORG_AND_CHECK = text(
    "SELECT set_config('msnet.org', :org, true), "
    "EXISTS (SELECT 1 FROM token_denylist WHERE value = ANY(CAST(:keys AS text[])))"
)


def async_url(url: str) -> str:
    """postgresql://… as SQLAlchemy's asyncpg URL."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


def describe(url: str) -> str:
    """Where a URL points, without its password."""
    parts = urlsplit(url)
    host = parts.hostname or dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("host", "")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.username or ''}@{host}{port}{parts.path}"


def plain_url(url: str) -> str:
    """An SQLAlchemy asyncpg URL back as a libpq-style postgresql:// URL (for asyncpg.connect)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


@dataclass(frozen=True)
class Timeouts:
    """How long the service waits on its database, in seconds: for a new connection, for a free one
    of the pool, for a statement (the server cancels it; the driver gives up ``DRIVER_GRACE``
    later, should the server not answer at all), for a lock, and for a transaction left idle."""

    connect: int = 5
    pool: int = 5
    statement: int = 10
    lock: int = 5
    idle_in_transaction: int = 60

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(
            connect=settings.db_connect_timeout,
            pool=settings.db_pool_timeout,
            statement=settings.db_statement_timeout,
            lock=settings.db_lock_timeout,
            idle_in_transaction=settings.db_idle_in_transaction_timeout,
        )


DRIVER_GRACE = 2


@dataclass(frozen=True)
class PoolMeters:
    """The series of one pool in ``Metrics`` that every checkout updates, resolved once: looking a
    label up at every checkout cost more than the update itself. The count of timeouts is resolved
    when one happens, so its series appears with the first."""

    metrics: Metrics
    name: str
    wait: Any
    checked_out: Any
    connections: Any
    overflow: Any

    @classmethod
    def of(cls, metrics: Metrics, name: str) -> PoolMeters:
        return cls(
            metrics=metrics,
            name=name,
            wait=metrics.pool_wait.labels(name),
            checked_out=metrics.pool_checked_out.labels(name),
            connections=metrics.pool_connections.labels(name),
            overflow=metrics.pool_overflow.labels(name),
        )


class MeasuredPool(AsyncAdaptedQueuePool):
    """The asyncio queue pool, measured into ``meters`` (set on a subclass made for each engine): how
    long each checkout waits, the checkouts that time out, and after each checkout and return the
    connections open, in use and beyond the pool's size."""

    meters: PoolMeters

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()
        except exc.TimeoutError:
            self.meters.metrics.pool_timeouts.labels(self.meters.name).inc()
            raise
        finally:
            self.meters.wait.observe(time.perf_counter() - started)
            self._measure()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._measure()

    def _measure(self) -> None:
        in_use = self.checkedout()
        self.meters.checked_out.set(in_use)
        self.meters.connections.set(self.checkedin() + in_use)
        self.meters.overflow.set(max(0, self.overflow()))


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    timeouts: Timeouts = Timeouts(),
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    name: str = "primary",
    **kwargs: Any,
) -> AsyncEngine:
    """The service's engine: every connection bounds its statements, lock waits and idle
    transactions on the server, and the driver bounds each round trip, so a paused or vanished
    server costs a request seconds, not as long as it lasts. With ``metrics``, its pool is measured
    under the label ``name``; with ``tracing``, each statement is a span."""
    if metrics is not None:
        kwargs["poolclass"] = type("MeasuredPool", (MeasuredPool,), {"meters": PoolMeters.of(metrics, name)})
        metrics.pool_size.labels(name).set(pool_size)
        metrics.pool_max_overflow.labels(name).set(pool_size)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool,
        pool_pre_ping=False,
        connect_args={
            "server_settings": {
                "application_name": "msnet",
                "statement_timeout": f"{timeouts.statement}s",
                "lock_timeout": f"{timeouts.lock}s",
                "idle_in_transaction_session_timeout": f"{timeouts.idle_in_transaction}s",
            },
            "timeout": timeouts.connect,
            "command_timeout": timeouts.statement + DRIVER_GRACE,
        },
        json_deserializer=msgspec.json.decode,  # JSON columns as read: the same values, 3-4x faster
        **kwargs,
    )
    if tracing is not None:
        tracing.instrument(engine.sync_engine)
    return engine


async def searches_use_indexes(engine: AsyncEngine) -> bool:
    """Whether the search operators are LEAKPROOF in this database, so that row-level security
    lets the planner use the GIN indexes (see ``LEAKPROOF_FUNCTIONS``)."""
    async with engine.connect() as conn:
        return bool(
            await conn.scalar(
                text(
                    "SELECT bool_and(proleakproof) FROM pg_proc WHERE oid = ANY(CAST(:f AS regprocedure[]))"
                ),
                {"f": list(LEAKPROOF_FUNCTIONS)},
            )
        )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


_PRESENT = text("SELECT set_config(:setting, :digest, true)")


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The driver's (asyncpg's) connection under ``session``'s, in its transaction (begun if it had
    not): for the few statements whose way through SQLAlchemy cost more than the database took. The
    connection of a transaction under way is read as it is: the awaitable way to it is one more
    switch to SQLAlchemy's greenlet."""
    connection = await session.connection()
    return connection.sync_connection.connection.driver_connection  # type: ignore[union-attr,return-value]


async def present(session: AsyncSession, setting: str, digest: str) -> None:
    """Show row-level security, for the current transaction, the hash of a secret the caller holds
    (``msnet.signin``: a sign-in's state; ``msnet.session``: a session's cookie), so the policy of the
    table found by it lets the caller see that one row before anyone knows whose it is."""
    await session.execute(_PRESENT, {"setting": setting, "digest": digest})


async def set_organisation(session: AsyncSession, org_id: object) -> None:
    """Act for ``org_id`` from now on: in the current transaction and in any that follows."""
    session.info[ORG_KEY] = org_id
    await session.execute(_SET_ORG, {"org": str(org_id)})


@event.listens_for(Session, "after_begin")
def _set_organisation(session: Session, transaction: Any, connection: Any) -> None:
    """Set ``msnet.org`` transaction-locally at the start of every transaction.

    An unset organisation is the empty string, which the policies' NULLIF turns into NULL:
    no rows, and no insert, for a transaction that did not say whose it is. For a request with
    an access token, the same statement asks whether the token is on the deny list; for a page, it
    presents the hash of the session's cookie (``PRESENT_KEY``, taken for this transaction only).
    """
    org = str(session.info.get(ORG_KEY) or "")
    keys = session.info.get(DENY_KEYS)
    presented = session.info.pop(PRESENT_KEY, None)
    if keys:
        session.info[DENIED] = connection.execute(_SET_ORG_AND_CHECK, {"org": org, "keys": keys}).one()[1]
    elif presented:
        setting, digest = presented
        connection.execute(_SET_ORG_AND_PRESENT, {"org": org, "setting": setting, "digest": digest})
    else:
        connection.execute(_SET_ORG, {"org": org})
