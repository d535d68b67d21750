"""Every model, imported once so the metadata is complete (Alembic and the catalog tests read it)."""

from msnet.audit.models import AuditEntry, AuditHead
from msnet.auth.models import DeniedToken, OAuthClient, SigningKey, UsedAssertion
from msnet.db.base import Base
from msnet.directory.models import Capacity, Office
from msnet.organisations.models import Organisation
from msnet.idempotency.models import IdempotencyKey
from msnet.outbox.models import OutboxMessage, WebhookEndpoint
from msnet.roster.models import Expert, ExpertContact
from msnet.training.models import DigestRun, Publication, Subscription, Training

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Capacity",
    "DeniedToken",
    "DigestRun",
    "Expert",
    "ExpertContact",
    "IdempotencyKey",
    "OAuthClient",
    "Office",
    "Organisation",
    "OutboxMessage",
    "Publication",
    "SigningKey",
    "Subscription",
    "Training",
    "UsedAssertion",
    "WebhookEndpoint",
    "metadata",
]
