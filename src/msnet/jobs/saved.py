"""The saved searches' e-mail: every person who asked is e-mailed, once a day, what is new in their
searches (:func:`msnet.web.saved.send_due`)."""

from __future__ import annotations

from msnet.jobs.runner import Context, Periodic
from msnet.web import saved

CHECK_EVERY = 900.0  # seconds between looks for searches last e-mailed a day ago or more


async def send_due(context: Context) -> None:
    sent = await saved.send_due(context.sessionmaker, context.settings)
    if sent:
        context.log.info("saved searches e-mailed", sent=sent)


SAVED_SEARCHES = Periodic("web.saved_searches", CHECK_EVERY, send_due)
