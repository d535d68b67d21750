"""The digest jobs, one a period: each queues the digests of its period once that has ended."""

from __future__ import annotations

from functools import partial

from msnet.jobs.runner import Context, Periodic
from msnet.training import digest
from msnet.training.schemas import Period

CHECK_EVERY = 900.0  # seconds between looks for a period that has ended


async def send_due(period: Period, context: Context) -> None:
    report = await digest.send_due(context.sessionmaker, context.settings, period)
    if report.sent or report.empty:
        context.log.info(
            "digests queued",
            period=period,
            start=report.start.isoformat(),
            sent=report.sent,
            empty=report.empty,
        )


DIGESTS = [Periodic(f"training.digests.{p}", CHECK_EVERY, partial(send_due, p)) for p in digest.PERIODS]
