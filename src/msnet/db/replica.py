"""Searches and lists read from a streaming replica (``MSNET_DATABASE_REPLICA_URL``) when it is
fresh enough for the caller; everything else, and every read the replica cannot serve, stays on
the primary.

A read first asks the primary, in the request's transaction there (which sets the organisation and
checks the token's deny list), for a ``ReadMark``: the primary's flushed WAL position (all that a
standby can have) and clock, and the caller's last write, found in the audit log: every write leaves
an entry there in its own transaction, whichever process made it. The replica then serves the read
when, in one statement:

- it has replayed the caller's last write, if the caller wrote in the last ``window`` seconds (its
  entry's ``seq`` is there: entries are appended in commit order, under the chain head's lock, so
  every earlier write of the caller is there too) — read-your-writes, across processes;
- and it has replayed everything the primary had flushed when the read began, or its last replayed
  commit is at most ``max_lag`` seconds older than the primary's clock then (both times by the
  primary's clock) — bounded staleness for everyone.

``window`` is ``max_lag`` plus the request timeout (a write's entry is made at most that long before
its commit), so a write older than the window is older than any staleness the replica may have.
A replica that fails (unreachable, or no standby) is left alone for ``RETRY_AFTER`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from msnet.db.engine import ORG_KEY, Timeouts, make_engine, make_sessionmaker
from msnet.logs import get_logger
from msnet.middleware import Metrics
from msnet.settings import Settings
from msnet.tracing import Tracing

RETRY_AFTER = 5.0  # seconds a replica that failed is not tried again

# The OFFSET 0 keeps the planner from reading the organisation's whole log backwards by seq for a
# caller with no entry in the window: it reads the window's entries by (organisation_id, at).
_MARK = text(
    "SELECT pg_current_wal_flush_lsn(), clock_timestamp(), "
    "(SELECT max(seq) FROM (SELECT seq FROM audit_log WHERE organisation_id = CAST(:org AS uuid) "
    "AND at >= :since AND actor = :actor OFFSET 0) AS recent)"
)
_FRESH = text(
    "SELECT pg_is_in_recovery(), "
    "coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), false) "
    "OR coalesce(pg_last_xact_replay_timestamp() >= :oldest, false), "
    "CAST(:seq AS bigint) IS NULL OR EXISTS (SELECT FROM audit_log WHERE seq = CAST(:seq AS bigint))"
)

log = get_logger("msnet.replica")


@dataclass(frozen=True)
class ReadMark:
    """What the primary said when a read began: its flushed WAL position (``lsn``) and clock
    (``at``), and the ``seq`` of the caller's last audit entry in the window (None: none)."""

    lsn: int  # as asyncpg reads a pg_lsn
    at: datetime
    seq: int | None


class Replica:
    """The replica's engine, and the choice of it for one read."""

    def __init__(self, engine: AsyncEngine, *, max_lag: int, window: int) -> None:
        self.engine = engine
        self.sessionmaker = make_sessionmaker(engine)
        self.max_lag = max_lag
        self.window = window
        self._skip_until = 0.0

    @property
    def available(self) -> bool:
        """False for ``RETRY_AFTER`` seconds after the replica failed."""
        return time.monotonic() >= self._skip_until

    async def mark(self, primary: AsyncSession, org_id: UUID | None, actor: str | None) -> ReadMark:
        """The ``ReadMark`` of a read by ``actor`` of ``org_id`` (None for an anonymous caller), in
        ``primary``'s transaction."""
        since = datetime.now(UTC) - timedelta(seconds=self.window)  # the audit log's clock: msnet's
        lsn, at, seq = (
            await primary.execute(
                _MARK, {"org": str(org_id) if org_id else None, "since": since, "actor": actor}
            )
        ).one()
        return ReadMark(lsn, at, seq)

    async def open(self, mark: ReadMark, org_id: UUID | None) -> AsyncSession | None:
        """A session on the replica, in a transaction acting for ``org_id`` (row-level security as
        on the primary), when the replica may serve a read of ``mark``; None when it may not (the
        caller reads from the primary)."""
        session = self.sessionmaker()
        session.info[ORG_KEY] = org_id
        params: dict[str, Any] = {
            "lsn": mark.lsn,
            "oldest": mark.at - timedelta(seconds=self.max_lag),
            "seq": mark.seq,
        }
        try:
            standby, fresh, has_writes = (await session.execute(_FRESH, params)).one()
        except (exc.SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            await session.close()
            self._skip("unreachable or failing", error)
            return None
        except BaseException:  # cancelled (the request timed out): the connection goes back all the same
            await session.close()
            raise
        if not standby:
            await session.close()
            self._skip("not a standby (it is not in recovery)")
            return None
        if not (fresh and has_writes):
            await session.close()
            log.debug("replica behind: read from the primary", fresh=fresh, writes_replayed=has_writes)
            return None
        return session

    def _skip(self, why: str, error: BaseException | None = None) -> None:
        log.warning(
            "replica unusable: reads go to the primary",
            reason=why,
            error=repr(getattr(error, "orig", error)) if error else None,
            retry_in=RETRY_AFTER,
        )
        self._skip_until = time.monotonic() + RETRY_AFTER


def make_replica(settings: Settings, metrics: Metrics, tracing: Tracing | None) -> Replica | None:
    """The replica of ``MSNET_DATABASE_REPLICA_URL`` (its pool measured under ``replica``), or None."""
    if not settings.database_replica_url:
        return None
    engine = make_engine(
        settings.database_replica_url,
        pool_size=settings.db_pool_size,
        timeouts=Timeouts.of(settings),
        metrics=metrics,
        tracing=tracing,
        name="replica",
    )
    max_lag = settings.database_replica_max_lag
    return Replica(engine, max_lag=max_lag, window=max_lag + settings.request_timeout)
