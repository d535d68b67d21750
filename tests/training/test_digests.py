"""Digest subscriptions, and digests sent end to end through the outbox to a real SMTP server: what
the subscriber's organisation may see, new in the period, once per period however many try, with an
unsubscribe link that works without signing in."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.db.engine import make_engine, make_sessionmaker
from msnet.jobs import runner
from msnet.jobs.registry import node_jobs
from msnet.middleware import Metrics
from msnet.outbox.worker import Worker
from msnet.settings import Settings
from msnet.training import digest
from tests.conftest import free_port
from tests.helpers import MakeCaller, run_cli
from tests.training.conftest import Caller, counts, make_publication, make_training

PROBLEM = "application/problem+json"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Event()  # set from the SMTP server's thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def mailbox() -> Any:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port  # type: ignore[attr-defined]
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailing(settings: Settings, mailbox: Any) -> Settings:
    return replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_tls="none",
        mail_from="msnet@mediation.example.org",
        worker_poll_interval=1,
    )


async def deliver(sessionmaker: async_sessionmaker, settings: Settings) -> int:
    worker = Worker(sessionmaker, settings, Metrics())
    try:
        return await worker.run_once()
    finally:
        await worker.close()


async def subscribe(client: AsyncTestClient, who: Caller, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/subscriptions", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def last_week(owner_conn: asyncpg.Connection) -> None:
    """Everything shared so far was shared in the middle of last week (a Wednesday)."""
    today = datetime.now(UTC).date()
    wednesday = today - timedelta(days=today.weekday() + 5)
    async with owner_conn.transaction():
        for table in ("trainings", "publications"):
            await owner_conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            await owner_conn.execute(
                f"UPDATE {table} SET created_at = $1", datetime.combine(wednesday, datetime.min.time(), UTC)
            )
            await owner_conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def parts(mail: email.message.EmailMessage) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


# --- subscriptions -------------------------------------------------------------------------


async def test_subscriptions_are_the_organisations_own(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    created = await subscribe(
        client,
        au,
        email="focal.point@au.example.org",
        period="monthly",
        filters={"theme": "gender_inclusion", "country": "et"},
    )
    assert created["organisation"] == "au"
    assert created["filters"] == {
        "q": None,
        "organisation": None,
        "theme": "gender_inclusion",
        "kind": None,
        "format": None,
        "country": "ET",
        "language": None,
        "publications": True,
    }
    await subscribe(client, eu, email="training@eu.example.org")
    mine = (await client.get("/v1/subscriptions", headers=au.headers)).json()
    assert (mine["total"], [s["id"] for s in mine["items"]]) == (1, [created["id"]])
    url = f"/v1/subscriptions/{created['id']}"
    assert (await client.delete(url, headers=eu.headers)).status_code == 404
    assert (await client.delete(url, headers=au.headers)).status_code == 204
    assert (await client.delete(url, headers=au.headers)).status_code == 404
    assert (await client.get("/v1/subscriptions", headers=au.headers)).json()["total"] == 0
    audited = [
        e["action"]
        for e in (await client.get("/v1/audit", headers=au.headers)).json()["items"]
        if e["resource_type"] == "subscription"
    ]
    assert audited == ["subscription.delete", "subscription.create"]


async def test_subscriptions_need_a_token_and_the_scope(
    client: AsyncTestClient, au: Caller, make_caller: MakeCaller
) -> None:
    body = {"email": "focal.point@au.example.org"}
    assert (await client.get("/v1/subscriptions")).status_code == 401
    assert (await client.post("/v1/subscriptions", json=body)).status_code == 401
    created = await subscribe(client, au, **body)
    assert (await client.delete(f"/v1/subscriptions/{created['id']}")).status_code == 401
    reader = await make_caller("au", ["training:read"])
    assert (await client.get("/v1/subscriptions", headers=reader.headers)).status_code == 200
    assert (await client.post("/v1/subscriptions", json=body, headers=reader.headers)).status_code == 403
    assert (
        await client.delete(f"/v1/subscriptions/{created['id']}", headers=reader.headers)
    ).status_code == 403
    other = await make_caller("eu", ["roster:read"])
    assert (await client.get("/v1/subscriptions", headers=other.headers)).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@example.org", "period": "daily"}, "period"),
        ({"email": "a@example.org", "filters": {"theme": "astrology"}}, "filters.theme"),
        ({"email": "a@example.org", "filters": {"country": "XX"}}, "filters.country"),
        ({"email": "a@example.org", "filters": {"language": "zz"}}, "filters.language"),
        ({"email": "a@example.org", "filters": {"organisation": "atlantis"}}, "filters.organisation"),
        ({"email": "a@example.org", "filters": {"kind": "lecture"}}, "filters.kind"),
        ({"email": "a@example.org", "filters": {"colour": "blue"}}, "filters.colour"),
        ({"email": "a@example.org", "frequency": "weekly"}, "frequency"),
    ],
)
async def test_bad_subscriptions_are_422_naming_the_field(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection, body: dict, field: str
) -> None:
    response = await client.post("/v1/subscriptions", json=body, headers=au.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await counts(owner_conn))["digest_subscriptions"] == 0


async def test_one_digest_per_address_and_period(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    await subscribe(client, au, email="focal.point@au.example.org")
    again = await client.post(
        "/v1/subscriptions", json={"email": "focal.point@au.example.org"}, headers=au.headers
    )
    assert again.status_code == 409
    await subscribe(client, au, email="focal.point@au.example.org", period="monthly")
    await subscribe(client, eu, email="focal.point@au.example.org")  # another organisation's: no clash
    replayed = [
        await client.post(
            "/v1/subscriptions",
            json={"email": "staff@au.example.org"},
            headers={**au.headers, "Idempotency-Key": "sub-1"},
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in replayed] == [201, 201]
    assert replayed[0].json() == replayed[1].json()


# --- periods -------------------------------------------------------------------------------


def test_a_digest_covers_the_last_whole_period() -> None:
    thursday = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    assert digest.period_covered("weekly", thursday) == (date(2026, 11, 16), date(2026, 11, 23))
    assert digest.period_covered("monthly", thursday) == (date(2026, 10, 1), date(2026, 11, 1))
    assert digest.period_covered("monthly", datetime(2027, 1, 1, tzinfo=UTC)) == (
        date(2026, 12, 1),
        date(2027, 1, 1),
    )
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert digest.period_covered("weekly", monday) == (date(2026, 11, 16), date(2026, 11, 23))


# --- end to end ----------------------------------------------------------------------------


async def test_a_weekly_digest_goes_out_once_with_what_the_subscriber_may_see(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    settings: Settings,
    mailing: Settings,
    mailbox: Mailbox,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    subscription = await subscribe(
        client, au, email="focal.point@au.example.org", filters={"theme": "gender_inclusion"}
    )
    await make_training(client, au, title="AU course on inclusive process design")
    await make_training(
        client, eu, title="EU network workshop <inclusion>", kind="workshop", country="BE", city="Brussels"
    )
    await make_training(client, eu, title="EU private seminar", sharing="private")
    await make_training(client, eu, title="Restricted to IGAD", sharing="restricted", share_with=["igad"])
    await make_training(client, eu, title="Transhumance course", themes=["transhumance"])
    await make_training(
        client,
        eu,
        title="Already over",
        start="2026-01-05T09:00:00Z",
        end="2026-01-06T17:00:00Z",
        application_deadline=None,
    )
    await make_publication(client, eu, title="Inclusion handbook")
    await make_publication(client, eu, title="Private note", sharing="private")
    await last_week(owner_conn)
    await make_training(client, eu, title="Shared this week")  # for next week's digest

    sent = run_cli(settings, "digest", "send", "--period", "weekly")
    assert sent.returncode == 0, sent.stderr
    assert "1 queued" in sent.stdout
    again = run_cli(settings, "digest", "send", "--period", "weekly")
    assert again.returncode == 0, again.stderr
    assert "0 queued" in again.stdout

    assert await deliver(sessionmaker, settings) == 0  # no SMTP server: the digest waits in the outbox
    assert await deliver(sessionmaker, mailing) == 1
    (mail,) = mailbox.messages
    assert mail["To"] == "focal.point@au.example.org"
    assert mail["From"] == "msnet@mediation.example.org"
    assert mail["Subject"].startswith("msnet weekly digest")
    assert "2 new trainings, 1 new publication" in mail["Subject"]
    text, html = parts(mail)
    for title in (
        "AU course on inclusive process design",
        "EU network workshop <inclusion>",
        "Inclusion handbook",
    ):
        assert title in text
    for title in (
        "EU private seminar",
        "Restricted to IGAD",
        "Transhumance course",
        "Already over",
        "Private note",
        "Shared this week",
    ):
        assert title not in text
        assert title not in html
    assert "EU network workshop &lt;inclusion&gt;" in html
    assert "Africa/Addis_Ababa" in text

    link = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text
    assert link.startswith("http://127.0.0.1/v1/subscriptions/unsubscribe?token=")
    path = link.removeprefix("http://127.0.0.1")

    page = await client.get(path)  # no token: a page that asks, and changes nothing
    assert page.status_code == 200
    assert "<form" in page.text
    assert (await client.get("/v1/subscriptions", headers=au.headers)).json()["total"] == 1
    assert (await client.post(path)).status_code == 200
    assert (await client.post(path)).status_code == 200  # a second click changes nothing
    assert (await client.get("/v1/subscriptions", headers=au.headers)).json()["total"] == 0
    unsubscribed = [
        e
        for e in (await client.get("/v1/audit", headers=au.headers)).json()["items"]
        if e["action"] in ("subscription.unsubscribe", "digest.send")
    ]
    assert [(e["action"], e["resource_id"]) for e in unsubscribed] == [
        ("subscription.unsubscribe", subscription["id"]),
        ("digest.send", subscription["id"]),
    ]


async def test_a_forged_or_tampered_unsubscribe_link_is_404(
    client: AsyncTestClient, au: Caller, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    created = await subscribe(client, au, email="focal.point@au.example.org")
    org_id = await owner_conn.fetchval("SELECT id FROM organisations WHERE slug = 'au'")
    subscription_id = UUID(created["id"])
    good = digest.unsubscribe_token(settings.secret_key, org_id, subscription_id)  # type: ignore[arg-type]
    payload, mac = good.split(".")
    forged = digest.unsubscribe_token("A" * 43, org_id, subscription_id)
    for token in (f"{payload}.{mac[:-2]}AA", forged, "garbage", f"{payload}", "a.b.c"):
        for response in (
            await client.get("/v1/subscriptions/unsubscribe", params={"token": token}),
            await client.post("/v1/subscriptions/unsubscribe", params={"token": token}),
        ):
            assert response.status_code == 404, token
            assert response.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/subscriptions", headers=au.headers)).json()["total"] == 1


async def test_several_workers_send_each_digest_once(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    mailing: Settings,
    mailbox: Mailbox,
    owner_conn: asyncpg.Connection,
) -> None:
    await subscribe(client, au, email="one@au.example.org")
    await subscribe(client, eu, email="two@eu.example.org")
    await subscribe(
        client, eu, email="three@eu.example.org", filters={"theme": "transhumance"}
    )  # nothing new
    await make_training(client, au)
    await last_week(owner_conn)
    engines = [make_engine(mailing.database_url, pool_size=2) for _ in range(3)]  # type: ignore[arg-type]
    try:
        reports = await asyncio.gather(
            *(digest.send_due(make_sessionmaker(e), mailing, "weekly") for e in engines)
        )
        assert sum(r.sent for r in reports) == 2
        assert sum(r.empty for r in reports) == 1
        assert await deliver(make_sessionmaker(engines[0]), mailing) == 2
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(m["To"] for m in mailbox.messages) == ["one@au.example.org", "two@eu.example.org"]
    assert (await counts(owner_conn))["digest_runs"] == 3


async def test_the_outbox_worker_sends_digests_on_schedule(
    client: AsyncTestClient,
    au: Caller,
    mailing: Settings,
    mailbox: Mailbox,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    await subscribe(client, au, email="one@au.example.org")
    await make_publication(client, au, title="Lessons from local mediation")
    await last_week(owner_conn)
    stop = asyncio.Event()
    running = asyncio.create_task(
        runner.run(node_jobs(), runner.Context(sessionmaker, mailing, Metrics()), stop)
    )
    try:
        assert await asyncio.to_thread(mailbox.arrived.wait, 60)
    finally:
        stop.set()
        await running
    (mail,) = mailbox.messages
    assert "Lessons from local mediation" in parts(mail)[0]
