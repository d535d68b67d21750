"""/metrics beyond request counts: its content types, the database pool's gauges and the outbox's
backlog read from the database (summed over every organisation, under row-level security)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
import sqlalchemy.exc
from litestar.testing import AsyncTestClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from msnet.db.engine import Timeouts, make_engine
from msnet.middleware import Metrics
from msnet.settings import Settings
from tests.helpers import add_organisation, org_ids


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape(client: AsyncTestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/plain; version=0.0.4; charset=utf-8"),
        ("text/plain", "text/plain; version=0.0.4; charset=utf-8"),
        ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
    ],
)
async def test_one_content_type_with_one_charset(
    client: AsyncTestClient, accept: str | None, content_type: str
) -> None:
    response = await client.get("/metrics", headers={"accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["content-type"].count("charset") == 1
    if content_type.startswith("application/openmetrics-text"):
        names = {family.name for family in openmetrics_families(response.text)}
    else:
        names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"msnet_http_requests", "msnet_db_pool_size", "msnet_outbox_backlog"} <= names


async def test_the_pool_gauges_are_plausible(client: AsyncTestClient, settings: Settings) -> None:
    for _ in range(3):
        assert (await client.get("/v1/organisations")).status_code == 200
    samples = await _scrape(client)
    pool = (("pool", "primary"),)
    size = samples[("msnet_db_pool_size", pool)]
    assert size == settings.db_pool_size
    assert samples[("msnet_db_pool_max_overflow", pool)] == settings.db_pool_size
    # nothing holds a connection between requests; what the requests used is open and back in the pool
    assert samples[("msnet_db_pool_checked_out", pool)] == 0
    assert 1 <= samples[("msnet_db_pool_connections", pool)] <= size
    assert samples[("msnet_db_pool_overflow", pool)] == 0
    assert samples[("msnet_db_pool_wait_seconds_count", pool)] >= 3
    assert samples[("msnet_db_pool_wait_seconds_sum", pool)] > 0
    assert samples.get(("msnet_db_pool_timeouts_total", pool), 0) == 0
    assert samples[("msnet_ready", ())] == 1


async def test_the_outbox_backlog_is_every_organisations(
    client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    samples = await _scrape(client)
    for kind in ("webhook", "email"):
        assert samples[("msnet_outbox_backlog", (("kind", kind),))] == 0
        assert samples[("msnet_outbox_oldest_pending_age_seconds", (("kind", kind),))] == 0
        assert samples[("msnet_outbox_failed", (("kind", kind),))] == 0

    for slug in ("au", "eu"):
        await add_organisation(settings, slug)
    ids = await org_ids(owner_conn)
    # e-mails queued by two organisations (the owner role writes past row-level security): two
    # pending for the AU, the oldest queued ten minutes ago, one for the EU, one of the EU's failed
    # and one of the AU's delivered
    for org, created, state in (
        ("au", timedelta(minutes=10), "pending"),
        ("au", timedelta(minutes=2), "pending"),
        ("eu", timedelta(minutes=1), "pending"),
        ("eu", timedelta(minutes=3), "failed"),
        ("au", timedelta(hours=1), "delivered"),
    ):
        await owner_conn.execute(
            "INSERT INTO outbox_messages (id, organisation_id, kind, payload, created_at, failed_at, "
            "delivered_at) VALUES (gen_random_uuid(), $1, 'email', '{}', now() - CAST($2 AS interval), "
            "CASE WHEN $3 THEN now() END, CASE WHEN $4 THEN now() END)",
            ids[org],
            created,
            state == "failed",
            state == "delivered",
        )

    samples = await _scrape(client)
    email = (("kind", "email"),)
    assert samples[("msnet_outbox_backlog", email)] == 3
    assert 600 <= samples[("msnet_outbox_oldest_pending_age_seconds", email)] < 900
    assert samples[("msnet_outbox_failed", email)] == 1
    assert samples[("msnet_outbox_backlog", (("kind", "webhook"),))] == 0


async def test_the_pool_gauges_follow_checkouts_overflow_and_timeouts(settings: Settings) -> None:
    metrics = Metrics()
    engine = make_engine(
        settings.database_url,  # type: ignore[arg-type]
        pool_size=1,
        timeouts=Timeouts(pool=1),
        metrics=metrics,
        name="small",
    )

    def gauges() -> dict[str, float | None]:
        return {
            name: metrics.registry.get_sample_value(f"msnet_db_pool_{name}", {"pool": "small"})
            for name in ("size", "max_overflow", "connections", "checked_out", "overflow", "timeouts_total")
        }

    try:
        async with engine.connect(), engine.connect():  # the pool's one connection, and one beyond it
            assert gauges() == {
                "size": 1,
                "max_overflow": 1,
                "connections": 2,
                "checked_out": 2,
                "overflow": 1,
                "timeouts_total": None,
            }
            with pytest.raises(sqlalchemy.exc.TimeoutError):
                async with engine.connect():
                    pass
        # the connection beyond the pool's size is closed when given back; the other waits in the pool
        assert gauges() == {
            "size": 1,
            "max_overflow": 1,
            "connections": 1,
            "checked_out": 0,
            "overflow": 0,
            "timeouts_total": 1,
        }
        assert metrics.registry.get_sample_value("msnet_db_pool_wait_seconds_count", {"pool": "small"}) == 3
        assert metrics.registry.get_sample_value("msnet_db_pool_wait_seconds_sum", {"pool": "small"}) >= 1
    finally:
        await engine.dispose()
