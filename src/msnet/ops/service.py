"""Readiness: the database answers and its schema is at the head revision; and what /metrics reads
from the database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from msnet.db.engine import set_organisation
from msnet.errors import ServiceUnavailable
from msnet.logs import get_logger
from msnet.ops.schemas import Ready
from msnet.organisations.models import Organisation
from msnet.outbox.models import OutboxMessage
from msnet.problems import RETRY_AFTER

READY_TIMEOUT = 3.0
OUTBOX_KINDS = ("webhook", "email")
log = get_logger("msnet.ops")


async def check_ready(engine: AsyncEngine, head: str | None) -> Ready:
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as conn:
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except (TimeoutError, OSError, DBAPIError, OperationalError) as exc:
        raise ServiceUnavailable(
            f"database unreachable: {type(exc).__name__}", headers={"Retry-After": str(RETRY_AFTER)}
        ) from None
    if revision != head:
        raise ServiceUnavailable(f"schema at {revision}, expected {head}: run `msnet migrate`")
    return Ready(status="ready", schema_revision=revision)


@dataclass(frozen=True)
class Backlog:
    """The outbox's messages of one kind, over every organisation."""

    kind: str
    pending: int  # neither delivered nor failed
    oldest_pending_age: float  # seconds since the oldest pending one was queued; 0 with none
    failed: int  # failed for good, kept until pruned


class NodeState:
    """What ``/metrics`` reads from the database when scraped, as a Prometheus collector: whether
    the node is ready, and the outbox's backlog. (Federation's per-peer lag, when it comes, is read
    and reported here too: the age of the newest change pulled from each peer.)"""

    def __init__(self, ready: bool, backlog: list[Backlog] | None) -> None:
        self.ready = ready
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "msnet_ready",
            "1 when the database answers and its schema is at head (as /health/ready).",
            self.ready,
        )
        if self.backlog is None:  # the database did not answer: no figure rather than a wrong one
            return
        pending = GaugeMetricFamily(
            "msnet_outbox_backlog", "Outbox messages waiting to be delivered, by kind.", labels=("kind",)
        )
        age = GaugeMetricFamily(
            "msnet_outbox_oldest_pending_age_seconds",
            "Seconds since the oldest message waiting to be delivered was queued, by kind (0 with none).",
            labels=("kind",),
        )
        failed = GaugeMetricFamily(
            "msnet_outbox_failed",
            "Outbox messages that failed for good (kept MSNET_OUTBOX_RETENTION_DAYS), by kind.",
            labels=("kind",),
        )
        for row in self.backlog:
            pending.add_metric((row.kind,), row.pending)
            age.add_metric((row.kind,), row.oldest_pending_age)
            failed.add_metric((row.kind,), row.failed)
        yield from (pending, age, failed)


_PENDING = OutboxMessage.failed_at.is_(None)  # of the messages not delivered
_BACKLOG = (
    select(
        OutboxMessage.kind,
        func.count().filter(_PENDING),
        func.coalesce(
            func.extract("epoch", func.now() - func.min(OutboxMessage.created_at).filter(_PENDING)), 0
        ),
        func.count().filter(OutboxMessage.failed_at.is_not(None)),
    )
    .where(OutboxMessage.delivered_at.is_(None))
    .group_by(OutboxMessage.kind)
)


async def node_state(engine: AsyncEngine, sessionmaker: async_sessionmaker, head: str | None) -> NodeState:
    """Readiness, and the outbox's backlog summed over every organisation: read for each in turn,
    under row-level security (a query an organisation, a handful on a node)."""
    try:
        await check_ready(engine, head)
    except ServiceUnavailable:
        return NodeState(ready=False, backlog=None)
    totals = {kind: [0, 0.0, 0] for kind in OUTBOX_KINDS}
    try:
        async with asyncio.timeout(READY_TIMEOUT), sessionmaker() as session, session.begin():
            for org in (await session.scalars(select(Organisation.id))).all():
                await set_organisation(session, org)
                for kind, pending, age, failed in await session.execute(_BACKLOG):
                    total = totals[kind]
                    total[0] += pending
                    total[1] = max(total[1], float(age))
                    total[2] += failed
    except (TimeoutError, OSError, DBAPIError, OperationalError) as exc:
        log.warning("outbox backlog not read", error=type(exc).__name__)
        return NodeState(ready=True, backlog=None)
    return NodeState(
        ready=True, backlog=[Backlog(kind, int(p), a, int(f)) for kind, (p, a, f) in totals.items()]
    )
