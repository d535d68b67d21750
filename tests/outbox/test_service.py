"""emit and enqueue_email, the API other domains call inside their transaction: what they write, for
whom, and that a rolled-back transaction writes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.outbox import service
from msnet.outbox.models import OutboxMessage
from msnet.outbox.schemas import EVENT_TYPES
from tests.outbox.conftest import Org, Receiver, acting, messages, register


async def test_emit_writes_one_message_per_subscribed_endpoint(
    client: AsyncTestClient,
    au: Org,
    eu: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    first = await register(client, au, receiver.url, ["request.received", "overlap.detected"])
    second = await register(client, au, receiver.url + "/2", ["request.received"])
    await register(client, au, receiver.url + "/3", ["request.accepted"])
    await register(client, eu, receiver.url + "/eu", ["request.received"])
    request_id = uuid.uuid4()

    # an EU request reaches the AU: emitted in the EU's transaction, for the AU
    async with acting(sessionmaker, eu.id) as session:
        await service.emit(
            session,
            organisation_id=au.id,
            event_type="request.received",
            data={"request_id": request_id, "at": datetime(2027, 3, 1, tzinfo=UTC)},
        )
        # the EU's transaction does not see what it wrote for the AU
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0

    rows = await messages(owner_conn)
    assert sorted(str(r["endpoint_id"]) for r in rows) == sorted([first["id"], second["id"]])
    assert len({r["id"] for r in rows}) == 2
    for row in rows:
        assert row["organisation_id"] == au.id
        assert row["kind"] == "webhook"
        assert row["event_type"] == "request.received"
        assert row["attempts"] == 0
        assert row["delivered_at"] is None
        assert row["failed_at"] is None
        assert row["id"].version == 7
        body = json.loads(row["payload"])
        assert body["type"] == "request.received"
        assert body["data"] == {"request_id": str(request_id), "at": "2027-03-01T00:00:00Z"}
        assert body["timestamp"].endswith("Z")


async def test_emit_without_endpoints_writes_nothing(
    client: AsyncTestClient, au: Org, receiver: Receiver, sessionmaker: async_sessionmaker, owner_conn
) -> None:
    await register(client, au, receiver.url, ["overlap.resolved"])
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="request.received", data={})
    assert await messages(owner_conn) == []


async def test_emit_in_a_transaction_that_rolls_back_leaves_no_message(
    client: AsyncTestClient, au: Org, receiver: Receiver, sessionmaker: async_sessionmaker, owner_conn
) -> None:
    await register(client, au, receiver.url)

    class Failed(Exception):
        pass

    async def change_that_fails() -> None:
        async with acting(sessionmaker, au.id) as session:
            await service.emit(session, organisation_id=au.id, event_type="request.received", data={"n": 1})
            await service.enqueue_email(
                session, organisation_id=au.id, to="desk@au.int", subject="s", text="t"
            )
            raise Failed

    with pytest.raises(Failed):
        await change_that_fails()
    assert await messages(owner_conn) == []


async def test_unknown_event_type_is_a_programming_error(
    client: AsyncTestClient, au: Org, sessionmaker: async_sessionmaker
) -> None:
    async with acting(sessionmaker, au.id) as session:
        with pytest.raises(ValueError, match="unknown event type"):
            await service.emit(session, organisation_id=au.id, event_type="request.deleted", data={})
    assert "request.state_changed" in EVENT_TYPES


async def test_enqueue_email(
    client: AsyncTestClient, au: Org, sessionmaker: async_sessionmaker, owner_conn
) -> None:
    async with acting(sessionmaker, au.id) as session:
        message_id = await service.enqueue_email(
            session,
            organisation_id=au.id,
            to="focal.point@au.int",
            subject="Weekly digest: 3 new trainings",
            text="Three trainings were shared this week.",
            html="<p>Three trainings were shared this week.</p>",
            headers={"List-Unsubscribe": "<https://msnet.example/unsubscribe/x>"},
        )
    (row,) = await messages(owner_conn)
    assert row["id"] == message_id
    assert row["kind"] == "email"
    assert row["endpoint_id"] is None
    assert row["organisation_id"] == au.id
    payload = json.loads(row["payload"])
    assert payload == {
        "to": "focal.point@au.int",
        "subject": "Weekly digest: 3 new trainings",
        "text": "Three trainings were shared this week.",
        "html": "<p>Three trainings were shared this week.</p>",
        "headers": {"List-Unsubscribe": "<https://msnet.example/unsubscribe/x>"},
    }


@pytest.mark.parametrize(
    ("to", "subject", "headers"),
    [
        ("a@b.int, c@d.int", "s", {}),
        ("not an address", "s", {}),
        ("a@b.int", "line\r\nBcc: x@y.int", {}),
        ("a@b.int", "s", {"X-Note": "one\ntwo"}),
        ("a@b.int", "s", {"Bcc": "x@y.int"}),
        ("a@b.int", "s", {"Bad Name": "v"}),
    ],
)
async def test_enqueue_email_refuses_header_injection(
    client: AsyncTestClient, au: Org, sessionmaker: async_sessionmaker, owner_conn, to, subject, headers
) -> None:
    async with acting(sessionmaker, au.id) as session:
        with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
            await service.enqueue_email(
                session, organisation_id=au.id, to=to, subject=subject, text="t", headers=headers
            )
    assert await messages(owner_conn) == []


async def test_the_service_role_writes_messages_only_through_the_outbox_functions(
    client: AsyncTestClient, au: Org, sessionmaker: async_sessionmaker
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with acting(sessionmaker, au.id) as session:
            await session.execute(
                text(
                    "INSERT INTO outbox_messages (id, organisation_id, kind, payload) "
                    "VALUES (gen_random_uuid(), :org, 'email', '{}')"
                ),
                {"org": au.id},
            )
