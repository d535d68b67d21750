"""The job ``federation.documents``: every peer's signed node document fetched again every
``DOCUMENTS_EVERY`` seconds, so that a key a peer rotates (``msnet keys rotate`` there) is trusted
here while the peer's old key still signs its document beside the new one (the overlap lasts its
MSNET_ACCESS_TOKEN_TTL and a minute), and its organisations stay up to date."""

from __future__ import annotations

from msnet.federation import service
from msnet.jobs.runner import Context, Periodic

DOCUMENTS_EVERY = 60.0


async def refresh(context: Context) -> None:
    await service.refresh_all(context.sessionmaker)


DOCUMENTS = Periodic("federation.documents", DOCUMENTS_EVERY, refresh)
