"""The webhook services record their own audit entries, whoever acts: a person or a peer node
calling them directly leaves the entries an API client leaves, naming itself; a replay under the
same Idempotency-Key never carries the secret."""

from __future__ import annotations

import asyncpg
import msgspec

from msnet.idempotency.service import Replayed
from msnet.outbox import schemas, service
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"
URL = "https://hooks.au.example.org/msnet"


async def test_a_person_and_a_node_leave_entries_naming_them(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = schemas.WebhookCreate(url=URL, event_types=["request.response", "request.received"])
    async with acting(settings, "au") as (session, org):
        made = await service.create_endpoint(
            session,
            person(org),
            data,
            secret_key=settings.secret_key,  # type: ignore[arg-type]
            private_addresses=False,
            idempotency_key="hook-1",
        )
        assert isinstance(made, schemas.WebhookCreated)
        assert made.secret.startswith("whsec_")
        again = await service.create_endpoint(
            session,
            person(org),
            data,
            secret_key=settings.secret_key,  # type: ignore[arg-type]
            private_addresses=False,
            idempotency_key="hook-1",
        )
        assert isinstance(again, Replayed)
        replayed = msgspec.json.decode(again.body)
        assert replayed["id"] == str(made.id)
        assert "secret" not in replayed
        await service.delete_endpoint(session, node(org), made.id)

    assert await entries(owner_conn, org) == [
        entry(
            PERSON,
            "webhook.create",
            "webhook",
            made.id,
            digest({"url": URL, "event_types": ["request.received", "request.response"]}),
        ),
        entry(NODE, "webhook.delete", "webhook", made.id),
    ]
