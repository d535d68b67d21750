"""The e-mail of new overlap cases: every person who asked is e-mailed the open cases their
organisation became a party to since the last one (:func:`msnet.web.overlaps.send_due`)."""

from __future__ import annotations

from msnet.jobs.runner import Context, Periodic
from msnet.web import overlaps

CHECK_EVERY = 60.0  # seconds between looks for new cases


async def send_due(context: Context) -> None:
    sent = await overlaps.send_due(context.sessionmaker, context.settings)
    if sent:
        context.log.info("new overlap cases e-mailed", sent=sent)


OVERLAP_ALERTS = Periodic("web.overlap_alerts", CHECK_EVERY, send_due)
