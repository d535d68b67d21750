"""/v1/webhooks: the caller's organisation's webhook endpoints (scope org:admin)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.audit.service import record_request
from msnet.auth.principal import Principal, provide_principal, requires
from msnet.idempotency.service import IdempotencyKeyHeader, idempotent, replayable
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
        return await service.list_endpoints(db, principal, limit=limit, cursor=cursor)

    @post(
        "/",
        summary="Register a webhook endpoint; its signing secret is in this response only",
        responses=problem_responses(401, 403, 409, 413, 415),
    )
    async def create_webhook(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.WebhookCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.WebhookCreated:
        shown: list[str] = []

        async def create() -> schemas.Webhook:
            # what an Idempotency-Key keeps and replays: the endpoint, never its secret
            settings = request.app.state.settings
            endpoint, secret = await service.create_endpoint(
                db,
                principal,
                data,
                secret_key=settings.secret_key,
                private_addresses=settings.webhook_private_addresses,
            )
            await record_request(
                db,
                request.scope,
                principal,
                "webhook.create",
                "webhook",
                endpoint.id,
                {"url": endpoint.url, "event_types": endpoint.event_types},
            )
            shown.append(secret)
            return endpoint

        result = replayable(
            await idempotent(
                db, principal, idempotency_key, f"{request.method} {request.url.path}", data, create
            )
        )
        if isinstance(result, Response):
            return result  # type: ignore[return-value]
        return schemas.WebhookCreated(**msgspec.structs.asdict(result), secret=shown[0])

    @delete(
        "/{webhook_id:uuid}",
        summary="Delete a webhook endpoint and its undelivered messages",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_webhook(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        webhook_id: FromPath[UUID],
    ) -> None:
        await service.delete_endpoint(db, principal, webhook_id)
        await record_request(db, request.scope, principal, "webhook.delete", "webhook", webhook_id)
