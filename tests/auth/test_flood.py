"""A flood of failed authentications costs little (issue #17, point 9): an address refused for failing
too often has its failing attempts answered 429 with Retry-After by the outermost layer, without the
database, after a hold (the tarpit) of which a process keeps a bounded number; everyone else, and the
refused address's valid tokens, are served meanwhile; /metrics shows it. And tokens naming keys the
node does not know reload its key ring once, not once each."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import asyncpg
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar

from msnet.app import create_app
from msnet.auth.keys import MIN_RELOAD_INTERVAL
from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for

LIMIT = 2
WINDOW = 3600
HELD = 2  # answers held at once
GUARDED = "/v1/organisations/au/clients"
ATTACKER, NEIGHBOUR = "192.0.2.66", "198.51.100.20"
ENTRY = re.compile(r"^count=(\d+) reason=(\w+) ")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # held for longer than the test runs: the held answers are let go when the node stops
    return replace(
        settings,
        auth_failure_limit=LIMIT,
        auth_failure_window=WINDOW,
        auth_refusal_delay=60,
        auth_refusal_hold_limit=HELD,
    )


def _from(app: Litestar, address: str) -> httpx.AsyncClient:
    """A client whose requests come from ``address``, served on the test's event loop (run the app's
    lifespan on it with ``app.lifespan()``)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=app.state.settings.issuer)


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def _checkouts(app: Litestar) -> float:
    """Connections taken from the database pool so far."""
    value = app.state.metrics.registry.get_sample_value(
        "msnet_db_pool_wait_seconds_count", {"pool": "primary"}
    )
    return value or 0.0


async def _failures_of(owner_conn: asyncpg.Connection, source: str) -> dict[str, int]:
    """The failed authentications from ``source`` the audit log counts, by reason."""
    rows = await owner_conn.fetch(
        "SELECT resource_id FROM audit_log WHERE action = 'auth.failed' AND source = $1", source
    )
    counted: dict[str, int] = {}
    for row in rows:
        match = ENTRY.match(row["resource_id"])
        assert match, row["resource_id"]
        counted[match[2]] = counted.get(match[2], 0) + int(match[1])
    return counted


async def test_refused_answers_are_held_bounded_and_others_are_served_meanwhile(
    app: Litestar, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    async with _from(app, ATTACKER) as attacker, _from(app, NEIGHBOUR) as neighbour:
        async with app.lifespan():
            valid = bearer(await token_for(neighbour, admin))
            failed = [await attacker.get(GUARDED, headers=bearer(f"forged.{n}.token")) for n in range(LIMIT)]
            assert [a.status_code for a in failed] == [401] * LIMIT
            checkouts = _checkouts(app)
            audited = await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.failed'")

            held = [
                asyncio.create_task(attacker.get(GUARDED, headers=bearer(f"forged.held.{n}.token")))
                for n in range(HELD)
            ]
            for _ in range(1000):  # until both are held
                if app.state.metrics.registry.get_sample_value("msnet_auth_refusals_held") == HELD:
                    break
                await asyncio.sleep(0.01)
            # the tarpit is full: the next refused answers are sent at once
            at_once = await attacker.get(GUARDED, headers=bearer("forged.at.once.token"))
            assert at_once.status_code == 429
            assert 1 <= int(at_once.headers["retry-after"]) <= WINDOW
            assert at_once.headers["content-type"] == "application/problem+json"
            problem = at_once.json()
            assert problem["type"] == "urn:msnet:problem:too-many-requests"
            assert problem["status"] == 429
            assert problem["instance"] == GUARDED
            assert problem["request_id"] == at_once.headers["x-request-id"]
            # a token-endpoint request of the refused address, which only the database could check
            unchecked = await attacker.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(admin.client_id, "mss_wrong")
            )
            assert unchecked.status_code == 429
            assert unchecked.json()["error"] == "invalid_client"
            assert int(unchecked.headers["retry-after"]) >= 1
            assert unchecked.headers["cache-control"] == "no-store"
            # none of it took a database connection or wrote to the audit log (yet)
            assert _checkouts(app) == checkouts
            assert (
                await owner_conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.failed'")
                == audited
            )

            # meanwhile everyone else is served, and so are the refused address's valid tokens
            assert (await neighbour.get(GUARDED, headers=valid)).status_code == 200
            other = await neighbour.get(GUARDED, headers=bearer("forged.by.neighbour"))
            assert other.status_code == 401  # another address is not refused for the first one's failures
            assert (await attacker.get(GUARDED, headers=valid)).status_code == 200
            assert not any(task.done() for task in held)

            metrics = (await neighbour.get("/metrics")).text
            assert _sample(metrics, "msnet_auth_refusals_held") == HELD
            assert _sample(metrics, "msnet_auth_refusals_unheld_total") == 2
            assert _sample(metrics, 'msnet_auth_refusals_total{reason="malformed"}') == HELD + 1
            assert _sample(metrics, 'msnet_auth_refusals_total{reason="unchecked"}') == 1
            assert _sample(metrics, 'msnet_auth_failures_total{reason="malformed"}') == LIMIT + HELD + 2

        # the node stopped: the held answers were let go, refused
        answers = await asyncio.gather(*held)
        assert [a.status_code for a in answers] == [429] * HELD
        assert all(1 <= int(a.headers["retry-after"]) <= WINDOW for a in answers)
    # every failure of the attacker is in the audit log's counts, the refused ones too
    assert await _failures_of(owner_conn, ATTACKER) == {"malformed": LIMIT + HELD + 1}


async def test_a_refused_address_waits_at_the_token_endpoint_then_is_checked_as_ever(
    settings: Settings,
) -> None:
    app = create_app(replace(settings, auth_refusal_delay=1))
    admin = await add_client(settings, "au", ["org:admin"])
    async with _from(app, ATTACKER) as guesser, app.lifespan():
        form = {"grant_type": "client_credentials"}
        guesses = [
            await guesser.post("/oauth/token", data=form, auth=(admin.client_id, "mss_no")) for _ in range(3)
        ]
        assert [g.status_code for g in guesses] == [401] * LIMIT + [429]
        assert guesses[-1].json()["error"] == "invalid_client"
        good = await guesser.post("/oauth/token", data=form, auth=(admin.client_id, admin.client_secret))
        assert good.status_code == 200  # valid credentials of a refused address pass, after the hold
        assert (await guesser.get(GUARDED, headers=bearer(good.json()["access_token"]))).status_code == 200
        metrics = (await guesser.get("/metrics")).text
    assert _sample(metrics, 'msnet_auth_refusals_total{reason="invalid_client"}') == 1
    assert _sample(metrics, "msnet_auth_refusals_unheld_total") == 0


async def test_tokens_naming_unknown_keys_reload_the_key_ring_once(settings: Settings) -> None:
    app = create_app(replace(settings, auth_failure_limit=1000))
    stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    tokens = [jwt.encode({"alg": "RS256", "kid": stranger.kid}, {"n": n}, stranger) for n in range(10)]
    async with _from(app, ATTACKER) as client, app.lifespan():
        loaded = app.state.key_ring
        # the ring as it is a moment after it was loaded: an unknown key may reload it
        app.state.key_ring = replace(loaded, loaded_at=loaded.loaded_at - MIN_RELOAD_INTERVAL)
        checkouts = _checkouts(app)
        answers = await asyncio.gather(*(client.get(GUARDED, headers=bearer(t)) for t in tokens))
        assert [a.status_code for a in answers] == [401] * len(tokens)
        # one connection to reload the ring, one to record the first failure: not one each
        assert _checkouts(app) - checkouts == 2
        assert app.state.key_ring.loaded_at > loaded.loaded_at
        assert app.state.key_ring.signing is loaded.signing  # its keys kept, not imported again
