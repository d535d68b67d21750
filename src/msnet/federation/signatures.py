"""The change feed's items are signed once: each record's last signature is kept with the digest of
what it signed, and served again for as long as the record, as the calling peer sees it, is the same.

An item's signing input (its protected header, naming the key, and its payload) is hashed; when the
signature kept for the record is over the same input, it is reused, else the item is signed now (in
threads, off the event loop: RSA signing is most of what a page costs) and kept. A record read by
several peers, read again from the start after an expired cursor, or by a new peer catching up with
records the others already pulled, is not signed again. A record whose item differs by peer (a
``restricted`` one naming each peer's own organisations) is signed for each.

The table (``federation_signatures``, migration 0032) holds one row a record and no content of it:
what a peer is sent is made from the record as it stands; a row is only a signature to reuse. A row
altered behind the node's back gives its peers an item whose signature does not verify: refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey
from sqlalchemy import LargeBinary, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from msnet.db.base import Base

ALG = "RS256"
#: items signed in one thread at most; a page's signatures are shared among threads of this size
CHUNK = 50


class Signature(Base):
    """The last signature this node made of a record's feed item, and the digest of its input."""

    __tablename__ = "federation_signatures"

    record_id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    #: SHA-256 of the signing input (``BASE64URL(header) '.' BASE64URL(payload)``)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _sign_all(key: RSAKey, inputs: list[bytes]) -> list[bytes]:
    private = key.private_key
    return [private.sign(data, padding.PKCS1v15(), hashes.SHA256()) for data in inputs]


async def signed_items(
    session: AsyncSession, key: RSAKey, typ: str, items: Sequence[tuple[str, UUID, dict[str, Any]]]
) -> list[str]:
    """Each ``(kind, record_id, payload)`` as a compact JWS (RS256, ``kid`` and ``typ`` in its
    protected header) signed by ``key``: the kept signature when it is over the same input, a new
    one (then kept) otherwise."""
    if not items:
        return []
    header = _b64(json.dumps({"alg": ALG, "kid": key.kid, "typ": typ}, separators=(",", ":")).encode())
    inputs = [f"{header}.{_b64(msgspec.json.encode(payload))}".encode("ascii") for _, _, payload in items]
    digests = [hashlib.sha256(data).digest() for data in inputs]
    kept = {
        (row.kind, row.record_id): (row.digest, row.signature)
        for row in await session.execute(
            select(Signature.kind, Signature.record_id, Signature.digest, Signature.signature).where(
                Signature.record_id.in_([record_id for _, record_id, _ in items])
            )
        )
    }
    signatures: list[bytes | None] = []
    missing: list[int] = []
    for n, (kind, record_id, _) in enumerate(items):
        digest, signature = kept.get((kind, record_id), (None, None))
        signatures.append(signature if digest == digests[n] else None)
        if digest != digests[n]:
            missing.append(n)
    if missing:
        chunks = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
        made = await asyncio.gather(
            *(asyncio.to_thread(_sign_all, key, [inputs[n] for n in chunk]) for chunk in chunks)
        )
        for chunk, chunk_signatures in zip(chunks, made, strict=True):
            for n, signature in zip(chunk, chunk_signatures, strict=True):
                signatures[n] = signature
        statement = insert(Signature.__table__)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["record_id", "kind"],
                set_={"digest": statement.excluded.digest, "signature": statement.excluded.signature},
            ),
            [  # in one order, so that two pages signing the same records cannot deadlock
                {
                    "kind": items[n][0],
                    "record_id": items[n][1],
                    "digest": digests[n],
                    "signature": signatures[n],
                }
                for n in sorted(missing, key=lambda n: (items[n][0], items[n][1]))
            ],
        )
    return [
        f"{data.decode('ascii')}.{_b64(signature or b'')}"
        for data, signature in zip(inputs, signatures, strict=True)
    ]
