"""The training services record their own audit entries, whoever acts: a person or a peer node
calling them directly leaves the entries an API client leaves, naming itself."""

from __future__ import annotations

import asyncpg
import msgspec

from msnet.idempotency.service import Replayed
from msnet.settings import Settings
from msnet.training import schemas, service
from tests.audit.actors import acting, digest, entries, entry, node, person
from tests.training.conftest import publication_body, training_body

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def test_trainings_by_a_person_and_a_node_are_recorded_as_theirs(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = msgspec.convert(training_body(), schemas.TrainingCreate)
    change = schemas.TrainingUpdate(seats=30)
    async with acting(settings, "au") as (session, org):
        made = await service.create_training(
            session, person(org), data, origin=settings.issuer, idempotency_key="training-1"
        )
        assert isinstance(made, schemas.Training)
        again = await service.create_training(
            session, person(org), data, origin=settings.issuer, idempotency_key="training-1"
        )
        assert isinstance(again, Replayed)
        await service.update_training(session, node(org), made.id, change, None)
        await service.delete_training(session, node(org), made.id, None)

    assert await entries(owner_conn, org) == [
        entry(PERSON, "training.create", "training", made.id, digest(data)),
        entry(NODE, "training.update", "training", made.id, digest(change)),
        entry(NODE, "training.delete", "training", made.id),
    ]


async def test_publications_by_a_person_and_a_node_are_recorded_as_theirs(
    settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    data = msgspec.convert(publication_body(), schemas.PublicationCreate)
    change = schemas.PublicationUpdate(summary="Options for including women and youth.")
    async with acting(settings, "au") as (session, org):
        made = await service.create_publication(
            session, node(org), data, origin=settings.issuer, idempotency_key="publication-1"
        )
        assert isinstance(made, schemas.Publication)
        again = await service.create_publication(
            session, node(org), data, origin=settings.issuer, idempotency_key="publication-1"
        )
        assert isinstance(again, Replayed)
        await service.update_publication(session, person(org), made.id, change, None)
        await service.delete_publication(session, person(org), made.id, None)

    assert await entries(owner_conn, org) == [
        entry(NODE, "publication.create", "publication", made.id, digest(data)),
        entry(PERSON, "publication.update", "publication", made.id, digest(change)),
        entry(PERSON, "publication.delete", "publication", made.id),
    ]
