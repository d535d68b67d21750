"""What a node document says, as this node reads a peer's, and what ``msnet peer status`` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from msnet.api import Struct
from msnet.fields import Slug
from msnet.organisations.schemas import HttpUrl, OrgIdentifier, OrgKind


class HomedOrganisation(msgspec.Struct, kw_only=True):
    """An organisation homed on a node, as its node document names it (the same id on every node).
    Fields a newer peer adds are ignored, as in ``NodeDocument``."""

    id: UUID
    slug: Slug
    name: Annotated[str, Meta(min_length=2, max_length=200)]
    kind: OrgKind = "other"
    acronym: Annotated[str, Meta(min_length=1, max_length=20)] | None = None
    identifiers: Annotated[list[OrgIdentifier], Meta(max_length=10)] = []


class NodeDocument(msgspec.Struct, kw_only=True):
    """The payload of a node document (``/.well-known/msnet-node``), as read from a peer."""

    issuer: HttpUrl
    jwks: dict
    token_endpoint: HttpUrl
    organisations: Annotated[list[HomedOrganisation], Meta(max_length=1000)]
    changes_url: HttpUrl
    poke_url: HttpUrl
    inbox_url: HttpUrl
    checkpoint_url: HttpUrl
    software_version: str
    issued_at: int
    jwks_uri: HttpUrl


class PeerStatus(Struct):
    """One peer as ``msnet peer list`` and ``msnet peer status`` show it."""

    issuer: str
    state: str
    #: the peer's organisations recorded here, by slug
    organisations: list[str]
    #: organisations the peer claims that are homed elsewhere (refused), by slug
    refused_organisations: list[str]
    fingerprints: list[str]
    added_at: datetime
    document_checked_at: datetime | None
    last_sync_at: datetime | None
    last_change_at: datetime | None
    #: seconds since the last successful sync (None before the first)
    lag_seconds: float | None
    failures: int
    last_error: str | None
    last_error_at: datetime | None
    refused_reason: str | None


class NodeSignature(Struct):
    """One signature of a node document (RFC 7515 section 7.2.1): its protected header (base64url
    JSON: alg RS256, typ msnet-node+jws, kid) and the signature."""

    protected: Annotated[
        str, Meta(examples=["eyJhbGciOiJSUzI1NiIsInR5cCI6Im1zbmV0LW5vZGUrandzIiwia2lkIjoiazEifQ"])
    ]
    signature: Annotated[
        str, Meta(examples=["gY5XFvZGzVOlYESdR3M83uKeHKeW1hbYW5LaYWsDTjFuj0tujGLACY7YcJ5gCpAKn3"])
    ]


class SignedNodeDocument(Struct):
    """A node document: a JWS in the general JSON serialization. ``payload`` is base64url JSON:
    issuer, jwks (the public keys), jwks_uri, token_endpoint, organisations (id, slug, name, kind,
    acronym, identifiers of each organisation homed on the node), changes_url, poke_url, inbox_url,
    checkpoint_url, software_version, issued_at (Unix time)."""

    payload: Annotated[str, Meta(examples=["eyJpc3N1ZXIiOiJodHRwczovL21zbmV0LmF1LmludCJ9"])]
    signatures: Annotated[list[NodeSignature], Meta(min_length=1)]
