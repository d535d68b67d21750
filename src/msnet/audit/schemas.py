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
    """One entry of the organisation's audit log: who did what to which record, when, from where, with what
    outcome, chained to the entry before it by its hash."""

    seq: Annotated[
        int, Meta(ge=1, description="Position in the node's chain (contiguous across organisations).")
    ]
    id: UUID
    at: datetime
    organisation: Annotated[str | None, Meta(description="The organisation's slug; null for none.")]
    actor: Annotated[str, Meta(examples=["client:msc_abc", "operator", "anonymous"])]
    action: Annotated[str, Meta(examples=["client.create", "token.issue", "expert.contact.read"])]
    resource_type: Annotated[str, Meta(examples=["expert"])]
    resource_id: Annotated[str | None, Meta(examples=["0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47"])]
    outcome: Outcome
    request_id: Annotated[str | None, Meta(examples=["4c1d2b9e8f7a4e0d9b6c5a3f2e1d0c9b"])]
    source: Annotated[
        str | None,
        Meta(description="Where the request came from (client address).", examples=["196.188.12.40"]),
    ]
    payload_digest: Annotated[
        Sha256Hex | None,
        Meta(
            description="SHA-256 of the RFC 8785 canonical JSON of the event's payload (never the payload).",
            examples=["9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"],
        ),
    ]
    hash: Annotated[
        Sha256Hex,
        Meta(
            description="This entry's link in the chain.",
            examples=["5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"],
        ),
    ]


class AuditPage(Struct):
    """A page of audit entries, newest first; `next_cursor` fetches the next."""

    items: list[AuditEntry]
    next_cursor: str | None
    total: int
