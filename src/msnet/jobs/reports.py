"""The reports' job: the facts and the network's cells recomputed for every request changed since
the last run, every MSNET_REPORTS_REFRESH_SECONDS."""

from __future__ import annotations

import asyncio

from msnet.jobs.runner import Context, pause
from msnet.reports import service


class Refresh:
    name = "reports.refresh"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with context.sessionmaker() as session, session.begin():
                refreshed = await service.refresh(session)
            if refreshed:
                context.log.info("reports refreshed", requests=refreshed)
            await pause(stop, context.settings.reports_refresh_seconds)
