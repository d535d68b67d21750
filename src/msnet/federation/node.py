"""This node's identity: the fingerprint of a key, and the signed node document
(``/.well-known/msnet-node``) that tells a peer who this node is, with which keys, and which
organisations are homed here.

The document is a JWS in the general JSON serialization (RFC 7515 section 7.2.1), signed by every key
that currently verifies this node's tokens: right after ``msnet keys rotate`` that is the new key and
the old one, so a peer that trusts the old key learns the new one from a document the old one signed
(the overlap), and keeps trusting the node without its operator doing anything."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import msnet
from msnet.auth.keys import ALG, KeyRing, secret_box
from msnet.auth.models import SigningKey
from msnet.organisations.models import Organisation
from msnet.settings import Settings

PATH = "/.well-known/msnet-node"
TYP = "msnet-node+jws"


class BadNodeDocument(Exception):
    """A node document that is not well formed, or whose signatures do not verify."""


class UntrustedKey(Exception):
    """A well-formed, correctly signed node document that no trusted key signed: its keys changed
    without an overlap (or it is not the node it claims to be). ``fingerprints``: its keys'."""

    def __init__(self, fingerprints: list[str]) -> None:
        super().__init__(f"signed by {', '.join(fingerprints)}, none of them trusted")
        self.fingerprints = fingerprints


def fingerprint(jwk: dict[str, Any]) -> str:
    """``SHA256:`` and the base64url RFC 7638 thumbprint of a public key (what operators compare)."""
    return "SHA256:" + RSAKey.import_key(jwk).thumbprint()


def fingerprints(jwks: dict[str, Any]) -> list[str]:
    return sorted(fingerprint(key) for key in jwks.get("keys", []))


async def node_document(session: AsyncSession, settings: Settings, key_ring: KeyRing) -> str:
    """This node's signed node document: its issuer, public keys, the organisations homed here, and
    where its federation endpoints are; signed by every key in ``key_ring`` that still verifies."""
    issuer = settings.issuer
    organisations = await session.scalars(
        select(Organisation).where(Organisation.home.is_(None)).order_by(Organisation.slug)
    )
    payload = {
        "issuer": issuer,
        "jwks": key_ring.public_jwks(),
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/oauth/token",
        "organisations": [
            {"slug": o.slug, "id": str(o.id), "name": o.name, "identifiers": list(o.identifiers or [])}
            for o in organisations
        ],
        "changes_url": f"{issuer}/federation/v1/changes",
        "poke_url": f"{issuer}/federation/v1/poke",
        "inbox_url": f"{issuer}/federation/v1/inbox",
        "checkpoint_url": f"{issuer}/federation/v1/checkpoint",
        "software_version": msnet.__version__,
        "issued_at": int(time.time()),
    }
    kids = [key.kid for key in key_ring.verifying.keys]
    rows = await session.scalars(select(SigningKey).where(SigningKey.kid.in_(kids)))
    box = secret_box(settings.secret_key or "", b"signing-keys")
    keys = [RSAKey.import_key(json.loads(box.decrypt(row.private_jwk_encrypted.encode()))) for row in rows]
    members = [{"protected": {"alg": ALG, "typ": TYP, "kid": key.kid}} for key in keys]
    signed = jws.serialize_json(
        members,  # type: ignore[arg-type]
        json.dumps(payload, separators=(",", ":")).encode(),
        KeySet(keys),  # type: ignore[arg-type]
        algorithms=[ALG],
    )
    return json.dumps(signed, separators=(",", ":"))


def _b64json(value: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def verify_node_document(token: str, trusted_thumbprints: Collection[str]) -> dict[str, Any]:
    """The payload of a node document, once every signature on it verifies against the keys it
    publishes and at least one of them is trusted (its fingerprint is in ``trusted_thumbprints``).
    A trusted signer vouches for the document, so for every key it publishes.

    Raises ``BadNodeDocument`` (malformed, or a signature that does not verify) or ``UntrustedKey``."""
    try:
        document = json.loads(token)
        payload = _b64json(document["payload"])
        jwks = payload["jwks"]
        keys = KeySet.import_key_set(jwks)
        signatures = document["signatures"]
        if not isinstance(payload["issuer"], str) or not signatures:
            raise BadNodeDocument("a node document needs an issuer and a signature")
        headers = [_b64json(member["protected"]) for member in signatures]
        for member, header in zip(signatures, headers, strict=True):
            if header.get("typ") != TYP or "header" in member or not isinstance(header.get("kid"), str):
                raise BadNodeDocument(
                    f"each signature is of type {TYP} and names its key in its protected header alone"
                )
        signers = {str(header.get("kid")) for header in headers}
        jws.deserialize_json(document, keys, algorithms=[ALG])
        by_kid = {str(key.kid): key for key in keys.keys}
        if len(by_kid) != len(keys.keys):  # the key that verified must be the one fingerprinted
            raise BadNodeDocument("two keys of the document share a kid")
        if not all(isinstance(key, RSAKey) for key in keys.keys):  # each is fingerprinted when accepted
            raise BadNodeDocument("a node document publishes RSA keys only")
        if not signers <= by_kid.keys():
            raise BadNodeDocument("a signature names a key the document does not publish")
    except BadNodeDocument:
        raise
    except (JoseError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadNodeDocument(f"not a valid node document: {type(exc).__name__}") from None
    signed_by = sorted(fingerprint(by_kid[kid].as_dict(private=False)) for kid in signers)
    if not set(signed_by) & set(trusted_thumbprints):
        raise UntrustedKey(signed_by)
    return payload
