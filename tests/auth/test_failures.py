"""Failed authentication is accounted for in bounded writes (issue #17, point 9): counted by source,
reason and interval, the first of each recorded at once, the rest with their count when the interval
closes or the node stops; a source that keeps failing gets 429 with Retry-After, others do not."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import replace

import asyncpg
import httpx
import pytest
from joserfc import jwt
from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet.auth.failures import FailureKey, FailureLedger
from msnet.settings import Settings
from tests.documented import check_response
from tests.helpers import MakeCaller, add_client, bearer, token_for

LIMIT = 5
WINDOW = 3600  # the test never sees an interval close on its own: the node's stop closes it
GUARDED = "/v1/organisations/au/clients"
ENTRY = re.compile(r"^count=(\d+) reason=(\w+) interval=(\S+)/PT(\d+)S$")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # refused answers sent at once: the tarpit is tests/auth/test_flood.py's
    return replace(settings, auth_failure_limit=LIMIT, auth_failure_window=WINDOW, auth_refusal_delay=0)


async def _checked(response: httpx.Response) -> None:
    """Every answer checked against the document, but a 429 of the bearer guard, which any /v1
    operation may answer and none lists."""
    if response.status_code != 429 or response.request.url.path.startswith("/oauth/"):
        await check_response(response)


def _from(app: Litestar, address: str) -> httpx.AsyncClient:
    """A client whose requests come from ``address`` (the in-process test client's is fixed), served
    on the test's own event loop (run the app's lifespan on it with ``app.lifespan()``)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url=app.state.settings.issuer, event_hooks={"response": [_checked]}
    )


async def _failed_entries(owner_conn: asyncpg.Connection) -> list[tuple[str | None, str | None, int, str]]:
    """(source, actor, count, reason) of every failed-authentication entry."""
    rows = await owner_conn.fetch(
        "SELECT source, actor, resource_type, resource_id FROM audit_log WHERE action = 'auth.failed'"
    )
    entries = []
    for row in rows:
        assert row["resource_type"] == "auth_failures"
        match = ENTRY.match(row["resource_id"])
        assert match, row["resource_id"]
        entries.append((row["source"], row["actor"], int(match[1]), match[2]))
    return entries


def _metric(text: str, name: str, reason: str) -> float:
    match = re.search(rf'^{name}_total{{reason="{reason}"}} (\S+)$', text, re.MULTILINE)
    return float(match[1]) if match else 0.0


async def test_a_flood_from_one_source_writes_a_bounded_log_and_is_refused(
    app: Litestar, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    flood = LIMIT + 12
    async with (
        app.lifespan(),  # the node runs for the block; its stop records what is still counted
        _from(app, "192.0.2.7") as attacker,
        _from(app, "198.51.100.9") as neighbour,
    ):
        before = await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.failed'")
        valid = bearer(await token_for(neighbour, admin))
        answers = [await attacker.get(GUARDED, headers=bearer(f"forged.{n}.token")) for n in range(flood - 2)]
        answers += [await attacker.get(GUARDED, headers={"Authorization": "Basic eDp5"}) for _ in range(2)]
        written_during = (
            await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.failed'") - before
        )

        assert [a.status_code for a in answers] == [401] * LIMIT + [429] * (flood - LIMIT)
        for refused in answers[LIMIT:]:
            assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
            assert refused.headers["content-type"] == "application/problem+json"
        assert 'error="invalid_token"' in answers[0].headers["www-authenticate"]

        other = await neighbour.get(GUARDED, headers=bearer("forged.by.neighbour"))
        assert other.status_code == 401  # another source is not refused for the first one's failures
        assert (await neighbour.get(GUARDED, headers=valid)).status_code == 200
        # a valid token from the refused source is served: only failing attempts are refused
        assert (await attacker.get(GUARDED, headers=valid)).status_code == 200

        metrics = (await attacker.get("/metrics")).text
        assert _metric(metrics, "msnet_auth_failures", "malformed") == flood - 2 + 1
        assert _metric(metrics, "msnet_auth_failures", "not_bearer") == 2
        assert _metric(metrics, "msnet_auth_refusals", "malformed") == flood - 2 - LIMIT
        assert _metric(metrics, "msnet_auth_refusals", "not_bearer") == 2
        assert "forged" not in metrics

    # the first failure of a reason, at once; not_bearer's came once the source was refused: with the tally
    assert written_during == 1
    entries = await _failed_entries(owner_conn)
    by_key = Counter()
    for source, actor, count, reason in entries:
        assert actor == "anonymous"
        by_key[(source, reason)] += count
    assert by_key == {
        ("192.0.2.7", "malformed"): flood - 2,
        ("192.0.2.7", "not_bearer"): 2,
        ("198.51.100.9", "malformed"): 1,
    }
    # each key: its first failure at once unless refused already, then one entry with the rest (if any)
    assert len(entries) == 4


async def test_token_endpoint_failures_are_counted_and_refused_but_valid_credentials_pass(
    app: Litestar, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    async with app.lifespan(), _from(app, "203.0.113.5") as guesser:
        answers = [
            await guesser.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(admin.client_id if n % 2 else "au.no-such-client", f"mss_guess{n}"),
            )
            for n in range(LIMIT + 4)
        ]
        assert [a.status_code for a in answers] == [401] * LIMIT + [429] * 4
        assert {a.json()["error"] for a in answers} == {"invalid_client"}
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers[LIMIT:])
        good = await guesser.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(admin.client_id, admin.client_secret),
        )
        assert good.status_code == 200
    entries = await _failed_entries(owner_conn)
    counted = Counter()
    for _, actor, count, _ in entries:
        counted[actor] += count
    assert counted == {f"client:{admin.client_id}": (LIMIT + 4) // 2, "anonymous": (LIMIT + 5) // 2}
    assert len(entries) == 4


def test_a_ledger_counts_each_failure_once_across_intervals() -> None:
    """The bookkeeping alone: what is recorded at once, what waits for the interval to close, when a
    source is refused and for how long, and that the counts add up."""
    ledger = FailureLedger(window=60, limit=3)
    key, other = FailureKey("192.0.2.1", "expired"), FailureKey("192.0.2.2", "expired")
    start = 6000.0  # an interval's start (a multiple of 60)
    verdicts = [ledger.fail(key, start + n) for n in range(5)]
    assert [v.first for v in verdicts] == [True, False, False, False, False]
    assert [v.retry_after for v in verdicts] == [None, None, None, 57, 56]
    assert ledger.fail(other, start + 10).retry_after is None
    assert ledger.take(start + 59) == []  # nothing closed yet
    assert ledger.fail(key, start + 61).first  # a new interval: counted afresh, not refused
    closed = ledger.take(start + 61)
    assert [(t.key, t.count, t.interval_start) for t in closed] == [(key, 4, 6000)]
    ledger.fail(key, start + 62)
    rest = ledger.take(start + 62, everything=True)  # the node stops: the open interval too
    assert [(t.key, t.count, t.interval_start) for t in rest] == [(key, 1, 6060)]


def test_a_ledger_stays_bounded_under_many_sources() -> None:
    ledger = FailureLedger(window=60, limit=1, max_keys=3)
    now = 600.0
    firsts = [ledger.fail(FailureKey(f"2001:db8::{n}", "malformed"), now).first for n in range(10)]
    assert firsts == [True] * 3 + [False] * 7
    assert ledger.fail(FailureKey("2001:db8::9", "malformed"), now).retry_after is None  # untracked
    closed = ledger.take(now, everything=True)
    assert [(t.key, t.count) for t in closed] == [(FailureKey(None, "malformed"), 8)]


async def test_an_expired_token_says_so(app: Litestar, settings: Settings, client: AsyncTestClient) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    org_id = (await client.get("/v1/organisations/au")).json()["id"]
    now = int(time.time())
    key = app.state.key_ring.signing
    claims = {
        "iss": settings.issuer,
        "aud": settings.issuer,
        "sub": admin.client_id,
        "client_id": admin.client_id,
        "org": "au",
        "org_id": org_id,
        "scope": "org:admin",
        "jti": "expired-one",
        "iat": now - 900,
        "nbf": now - 900,
        "exp": now - 300,
    }
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, claims, key, algorithms=["RS256"])
    response = await client.get(GUARDED, headers=bearer(token))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert re.search(r'error_description="[^"]*expired', challenge)
    assert "expired" in response.json()["detail"]


async def test_a_missing_scope_is_insufficient_scope_naming_it(
    client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    caller = await make_caller("au", ["audit:read"])
    response = await client.get(GUARDED, headers=caller.headers)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="org:admin"' in challenge
    assert "org:admin" in response.json()["detail"]
