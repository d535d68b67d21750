"""The process registry's services record their own audit entries, whoever acts: a person or a peer
node calling them directly leaves the entries an API client leaves, naming itself."""

from __future__ import annotations

import asyncpg
import msgspec

from msnet.idempotency.service import Replayed
from msnet.processes import schemas, service
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person
from tests.processes.test_registry import process_body

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def test_a_person_and_a_node_leave_entries_naming_them(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = msgspec.convert(process_body(), schemas.ProcessCreate)
    duplicate_data = msgspec.convert(process_body(name="CAR dialogue"), schemas.ProcessCreate)
    change = schemas.ProcessUpdate(phase="agreement")
    async with acting(settings, "au") as (session, org):
        made = await service.create_process(
            session, person(org), data, origin=settings.issuer, idempotency_key="process-1"
        )
        assert isinstance(made, schemas.Process)
        again = await service.create_process(
            session, person(org), data, origin=settings.issuer, idempotency_key="process-1"
        )
        assert isinstance(again, Replayed)
        duplicate = await service.create_process(session, node(org), duplicate_data, origin=settings.issuer)
        assert isinstance(duplicate, schemas.Process)
        await service.update_process(session, node(org), made.id, change, None)
        into = schemas.ProcessMerge(into=made.id)
        merged = await service.merge_process(session, person(org), duplicate.id, into, None)
        assert merged.id == made.id

    assert await entries(owner_conn, org) == [
        entry(PERSON, "process.create", "process", made.id, digest(data)),
        entry(NODE, "process.create", "process", duplicate.id, digest(duplicate_data)),
        entry(NODE, "process.update", "process", made.id, digest(change)),
        entry(PERSON, "process.merge", "process", duplicate.id, digest(into)),
    ]
