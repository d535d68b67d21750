"""Every model, imported once so the metadata is complete (Alembic and the registry test read it)."""

from msnet.audit import models as audit
from msnet.auth import models as auth
from msnet.db import changes, generation
from msnet.db.base import Base
from msnet.directory import models as directory
from msnet.federation import models as federation
from msnet.federation import replicas as federation_replicas
from msnet.idempotency import models as idempotency
from msnet.organisations import models as organisations
from msnet.outbox import models as outbox
from msnet.overlaps import models as overlaps
from msnet.processes import models as processes
from msnet.reports import models as reports
from msnet.requests import models as requests
from msnet.roster import models as roster
from msnet.training import models as training
from msnet.web import models as web

metadata = Base.metadata

__all__ = [
    "audit",
    "auth",
    "changes",
    "directory",
    "federation",
    "federation_replicas",
    "generation",
    "idempotency",
    "metadata",
    "organisations",
    "outbox",
    "overlaps",
    "processes",
    "reports",
    "requests",
    "roster",
    "training",
    "web",
]
