"""/v1/webhooks: the caller's organisation's webhook endpoints (scope org:admin)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.outbox import schemas, service
from msnet.problems import problem_responses


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    guards = [requires("org:admin")]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="The organisation's webhook endpoints", responses=problem_responses(401, 403))
    async def list_webhooks(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.WebhookPage:
        """Your organisation's webhook endpoints (without their secrets). Scope `org:admin`."""
        return await service.list_endpoints(db, principal, limit=limit, cursor=cursor)

    @post(
        "/",
        summary="Register a webhook endpoint; its signing secret is in this response only",
        responses=problem_responses(401, 403, 409, 413, 415),
    )
    async def register_webhook(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.WebhookCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.WebhookCreated:
        """Register a webhook endpoint for your organisation's events; its signing secret is in this
        response only. Deliveries follow Standard Webhooks, at least once. Scope `org:admin`; honours
        `Idempotency-Key`; at most 20 endpoints."""
        settings = request.app.state.settings
        return replayable(
            await service.create_endpoint(
                db,
                principal,
                data,
                secret_key=settings.secret_key,
                private_addresses=settings.webhook_private_addresses,
                idempotency_key=idempotency_key,
            )
        )

    @delete(
        "/{webhook_id:uuid}",
        summary="Delete a webhook endpoint and its undelivered messages",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_webhook(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        webhook_id: FromPath[UUID],
    ) -> None:
        """Delete one of your webhook endpoints and its undelivered messages. Scope `org:admin`; 404 for
        another organisation's endpoint."""
        await service.delete_endpoint(db, principal, webhook_id)
