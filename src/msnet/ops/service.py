"""Readiness: the database answers and its schema is at the head revision."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from msnet.errors import ServiceUnavailable
from msnet.ops.schemas import Ready
from msnet.problems import RETRY_AFTER

READY_TIMEOUT = 3.0


async def check_ready(engine: AsyncEngine, head: str | None) -> Ready:
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as conn:
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except (TimeoutError, OSError, DBAPIError, OperationalError) as exc:
        raise ServiceUnavailable(
            f"database unreachable: {type(exc).__name__}", headers={"Retry-After": str(RETRY_AFTER)}
        ) from None
    if revision != head:
        raise ServiceUnavailable(f"schema at {revision}, expected {head}: run `msnet migrate`")
    return Ready(status="ready", schema_revision=revision)
