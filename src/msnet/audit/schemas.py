"""API boundary of the audit log: the read shape of an entry and a page of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from msnet.api import Struct

Outcome = Literal["success", "failure", "denied"]
Sha256Hex = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256.")]


class AuditEntry(Struct):
    seq: Annotated[
        int, Meta(ge=1, description="Position in the node's chain (contiguous across organisations).")
    ]
    id: UUID
    at: datetime
    organisation: Annotated[str | None, Meta(description="The organisation's slug; null for none.")]
    actor: Annotated[str, Meta(examples=["client:msc_abc", "operator", "anonymous"])]
    action: Annotated[str, Meta(examples=["client.create", "token.issue", "expert.contact.read"])]
    resource_type: str
    resource_id: str | None
    outcome: Outcome
    request_id: str | None
    source: Annotated[str | None, Meta(description="Where the request came from (client address).")]
    payload_digest: Annotated[
        Sha256Hex | None,
        Meta(
            description="SHA-256 of the RFC 8785 canonical JSON of the event's payload (never the payload)."
        ),
    ]
    hash: Annotated[Sha256Hex, Meta(description="This entry's link in the chain.")]


class AuditPage(Struct):
    items: list[AuditEntry]
    next_cursor: str | None
    total: int
