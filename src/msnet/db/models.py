"""Every model, imported once so the metadata is complete (Alembic and the catalog tests read it)."""

from msnet.audit.models import AuditEntry, AuditHead
from msnet.db.base import Base
from msnet.directory.models import Organisation

metadata = Base.metadata

__all__ = ["AuditEntry", "AuditHead", "Organisation", "metadata"]
