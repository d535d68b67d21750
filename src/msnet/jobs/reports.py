"""The reports' jobs: the facts and the network's cells recomputed for every request changed since
the last run, every MSNET_REPORTS_REFRESH_SECONDS; the quarter's report e-mailed to the
administrators who asked for it (:func:`msnet.web.quarterly.send_due`), looked for every hour."""

from __future__ import annotations

import asyncio

from msnet.jobs.runner import Context, Periodic, pause
from msnet.reports import service
from msnet.web import quarterly


class Refresh:
    name = "reports.refresh"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with context.sessionmaker() as session, session.begin():
                refreshed = await service.refresh(session)
            if refreshed:
                context.log.info("reports refreshed", requests=refreshed)
            await pause(stop, context.settings.reports_refresh_seconds)


async def send_quarterly(context: Context) -> None:
    sent = await quarterly.send_due(context.sessionmaker, context.settings)
    if sent:
        context.log.info("quarterly reports e-mailed", sent=sent)


#: The quarter's report e-mailed to the administrators who asked, once a quarter has ended.
QUARTERLY = Periodic("reports.quarterly", 3600.0, send_quarterly)
