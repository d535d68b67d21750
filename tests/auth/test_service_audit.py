"""The client services record their own audit entries, whoever acts: a person or a peer node
registering, rotating and deleting a client directly leaves the entries an API client leaves,
naming itself (and a client a person registers names that person as its creator)."""

from __future__ import annotations

import asyncpg

from msnet.auth import schemas, service
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def test_a_person_and_a_node_leave_entries_naming_them(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = schemas.ClientCreate(name="Case system", scopes=["roster:read", "directory:read"])
    async with acting(settings, "au") as (session, org):
        made = await service.register_client(
            session,
            person(org),
            org,
            data,
            secret_key=settings.secret_key,  # type: ignore[arg-type]
        )
        assert made.created_by == PERSON
        rotated = await service.rotate_client_secret(
            session,
            node(org),
            org,
            made.client_id,
            secret_key=settings.secret_key,  # type: ignore[arg-type]
        )
        assert rotated.client_secret != made.client_secret
        await service.delete_client(session, person(org), org, made.client_id, settings.access_token_ttl)

    assert await entries(owner_conn, org) == [
        entry(
            PERSON,
            "client.create",
            "client",
            made.client_id,
            digest({"name": "Case system", "scopes": ["directory:read", "roster:read"], "jwks": False}),
        ),
        entry(NODE, "client.rotate_secret", "client", made.client_id),
        entry(PERSON, "client.delete", "client", made.client_id),
    ]
