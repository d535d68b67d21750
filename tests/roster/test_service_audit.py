"""The roster's services record their own audit entries, whoever acts: a person or a peer node calling
them directly (as the staff pages or the node inbox will) leaves the entries an API client leaves,
naming itself, and gets the same Idempotency-Key replay."""

from __future__ import annotations

import asyncpg
import msgspec

from msnet.idempotency.service import Replayed
from msnet.roster import schemas, service
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person
from tests.roster.conftest import expert_body

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def test_a_person_and_a_node_leave_entries_naming_them(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = msgspec.convert(expert_body(), schemas.ExpertCreate)
    change = schemas.ExpertUpdate(bio="Now a senior adviser to the AU Panel of the Wise.")
    async with acting(settings, "au") as (session, org):
        made = await service.create_expert(
            session, person(org), data, origin=settings.issuer, idempotency_key="expert-1"
        )
        assert isinstance(made, schemas.Expert)
    async with acting(settings, "au") as (session, org):
        again = await service.create_expert(
            session, person(org), data, origin=settings.issuer, idempotency_key="expert-1"
        )
        assert isinstance(again, Replayed)
        assert msgspec.json.decode(again.body)["id"] == str(made.id)
        await service.update_expert(session, node(org), made.id, change, None)
        contact = await service.read_contact(session, node(org), made.id)
        assert contact.email == "amina@example.org"
        await service.erase_expert(session, person(org), made.id, None)

    assert await entries(owner_conn, org) == [
        entry(PERSON, "expert.create", "expert", made.id, digest(data)),
        entry(NODE, "expert.update", "expert", made.id, digest(change)),
        entry(NODE, "expert.contact.read", "expert", made.id),
        entry(PERSON, "expert.erase", "expert", made.id),
    ]
