"""/v1/audit: the caller's organisation's audit entries, newest first."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit, rfc3339
from msnet.audit import schemas, service
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.problems import problem_responses

Text = Annotated[str | None, QueryParameter(max_length=200)]


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [requires("audit:read")]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="The caller's organisation's audit entries, newest first",
        responses=problem_responses(401, 403),
    )
    async def list_audit_entries(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        since: Annotated[
            str | None,
            QueryParameter(max_length=40, description="From this instant (inclusive), RFC 3339 with a zone."),
        ] = None,
        until: Annotated[
            str | None,
            QueryParameter(max_length=40, description="Before this instant, RFC 3339 with a zone."),
        ] = None,
        action: Text = None,
        resource_type: Text = None,
        resource_id: Text = None,
        actor: Text = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.AuditPage:
        """Your organisation's audit log, newest first: who did what to which record, when, from where and
        with what outcome (filters `since`, `until`, `action`, `resource_type`, `resource_id`, `actor`).
        Scope `audit:read`."""
        return await service.list_entries(
            db,
            principal.org_id,
            service.AuditFilter(
                since=rfc3339("since", since),
                until=rfc3339("until", until),
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                actor=actor,
            ),
            limit=limit,
            cursor=cursor,
        )
