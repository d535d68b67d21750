"""Idempotent creation: the same ``Idempotency-Key`` and body answer the same response, once made.

The key is claimed by inserting its row first; a concurrent request with the same key waits on that
row until the first commits, then replays its response (or takes over if the first rolled back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Response
from litestar.params import HeaderParameter
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.errors import InvalidInput
from msnet.idempotency.models import IdempotencyKey

KEEP = timedelta(hours=24)
IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a creating POST safely: the same key and body answer the first response.",
    ),
]


@dataclass(frozen=True)
class Replayed:
    """The stored answer to an operation already done under the same key: its status and JSON body."""

    status: int
    body: bytes


def replayable(result: Any) -> Any:
    """A service's result as a route answers it: a replay as the stored response, marked
    ``Idempotent-Replayed``; anything else as it is."""
    if isinstance(result, Replayed):
        return Response(
            result.body,
            status_code=result.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    return result


def _fingerprint(operation: str, body: Any) -> str:
    return hashlib.sha256(f"{operation} ".encode() + msgspec.json.encode(body)).hexdigest()


async def idempotent(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    operation: str,
    body: Any,
    create: Callable[[], Awaitable[Any]],
    status: int = 201,
) -> Any:
    """Run ``create`` once per key of the principal's organisation; a repeat of the same ``operation``
    (a name, with the ids of the records it acts on) and ``body`` gets :class:`Replayed`, the same key
    for another operation or body is a 422."""
    if key is None:
        return await create()
    fingerprint = _fingerprint(operation, body)
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < datetime.now(UTC) - KEEP))
    claimed = await session.scalar(
        insert(IdempotencyKey)
        .values(organisation_id=principal.org_id, key=key, fingerprint=fingerprint, status=0, body=b"")
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if claimed is None:
        stored = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.organisation_id == principal.org_id, IdempotencyKey.key == key
            )
        )
        assert stored is not None
        if stored.fingerprint != fingerprint:
            raise InvalidInput.field("Idempotency-Key", "was used for a different request")
        return Replayed(stored.status, stored.body)
    result = await create()
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.organisation_id == principal.org_id, IdempotencyKey.key == key)
        .values(status=status, body=msgspec.json.encode(result))
    )
    return result
