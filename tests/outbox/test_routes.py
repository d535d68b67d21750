"""/v1/webhooks: register (secret shown once), list, delete; bad input answers a problem naming the
field and writes nothing; other organisations, no token and a missing scope are refused."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.app import create_app
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER, TEST_SECRET_KEY
from tests.helpers import add_client, bearer, token_for
from tests.outbox.conftest import Org, register

WEBHOOKS = "/v1/webhooks"


async def _endpoints(owner_conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await owner_conn.fetch("SELECT * FROM webhook_endpoints ORDER BY id")


async def _audited(owner_conn: asyncpg.Connection, action: str) -> list[asyncpg.Record]:
    async with owner_conn.transaction():
        await owner_conn.execute("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
        rows = await owner_conn.fetch("SELECT * FROM audit_log WHERE action = $1", action)
        await owner_conn.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
    return rows


async def test_register_shows_the_secret_once_and_stores_it_encrypted(
    client: AsyncTestClient, au: Org, owner_conn: asyncpg.Connection
) -> None:
    response = await client.post(
        WEBHOOKS,
        json={
            "url": "https://cases.au.int/hooks/msnet?tenant=psd",
            "event_types": ["overlap.detected", "request.received", "overlap.detected"],
            "description": "AU case management",
        },
        headers=au.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["organisation"] == "au"
    assert body["url"] == "https://cases.au.int/hooks/msnet?tenant=psd"
    assert body["event_types"] == ["overlap.detected", "request.received"]
    assert body["description"] == "AU case management"
    assert body["active"] is True
    assert body["version"] == 1
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32

    (row,) = await _endpoints(owner_conn)
    assert str(row["id"]) == body["id"]
    assert body["secret"] not in row["secret_encrypted"]
    assert body["secret"].removeprefix("whsec_") not in row["secret_encrypted"]
    (entry,) = await _audited(owner_conn, "webhook.create")
    assert entry["resource_id"] == body["id"]
    assert entry["organisation_id"] == au.id

    listed = (await client.get(WEBHOOKS, headers=au.headers)).json()
    assert listed["total"] == 1
    assert listed["next_cursor"] is None
    (item,) = listed["items"]
    assert "secret" not in item
    assert item == {k: v for k, v in body.items() if k != "secret"}


async def test_idempotency_key_replays_the_endpoint_without_its_secret(
    client: AsyncTestClient, au: Org, owner_conn: asyncpg.Connection
) -> None:
    request = {"url": "https://cases.au.int/hooks", "event_types": ["request.received"]}
    headers = {**au.headers, "Idempotency-Key": "register-cases-1"}
    first = await client.post(WEBHOOKS, json=request, headers=headers)
    again = await client.post(WEBHOOKS, json=request, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["secret"].startswith("whsec_")
    assert again.json() == {k: v for k, v in first.json().items() if k != "secret"}
    assert len(await _endpoints(owner_conn)) == 1
    async with owner_conn.transaction():
        await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(au.id))
        stored = await owner_conn.fetchval("SELECT body FROM idempotency_keys WHERE key = 'register-cases-1'")
    assert b"https://cases.au.int/hooks" in stored
    assert first.json()["secret"].encode() not in stored
    other = await client.post(WEBHOOKS, json={**request, "url": "https://other.au.int/"}, headers=headers)
    assert other.status_code == 422


async def test_list_is_keyset_paginated(client: AsyncTestClient, au: Org) -> None:
    ids = [(await register(client, au, f"https://cases.au.int/{i}"))["id"] for i in range(3)]
    page = (await client.get(WEBHOOKS, params={"limit": 2}, headers=au.headers)).json()
    assert page["total"] == 3
    assert [i["id"] for i in page["items"]] == ids[:2]
    rest = (
        await client.get(WEBHOOKS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=au.headers)
    ).json()
    assert [i["id"] for i in rest["items"]] == ids[2:]
    assert rest["next_cursor"] is None
    bad = await client.get(WEBHOOKS, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=au.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_delete(client: AsyncTestClient, au: Org, owner_conn: asyncpg.Connection) -> None:
    endpoint = await register(client, au, "https://cases.au.int/hooks")
    response = await client.delete(f"{WEBHOOKS}/{endpoint['id']}", headers=au.headers)
    assert response.status_code == 204
    assert await _endpoints(owner_conn) == []
    assert (await client.get(WEBHOOKS, headers=au.headers)).json()["total"] == 0
    (entry,) = await _audited(owner_conn, "webhook.delete")
    assert entry["resource_id"] == endpoint["id"]
    again = await client.delete(f"{WEBHOOKS}/{endpoint['id']}", headers=au.headers)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")


VALID = {"url": "https://cases.au.int/hooks", "event_types": ["request.received"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "url": "ftp://cases.au.int/hooks"}, "url"),
        ({**VALID, "url": "cases.au.int/hooks"}, "url"),
        ({**VALID, "url": "https://"}, "url"),
        ({**VALID, "url": "https://user:pw@cases.au.int/hooks"}, "url"),
        ({**VALID, "url": "https://cases.au.int:99999/hooks"}, "url"),
        ({**VALID, "url": "https://cases.au.int/" + "a" * 2000}, "url"),
        ({**VALID, "url": ""}, "url"),
        ({**VALID, "event_types": ["request.deleted"]}, "event_types.0"),
        ({**VALID, "event_types": []}, "event_types"),
        ({**VALID, "description": "d" * 501}, "description"),
        ({**VALID, "secret": "whsec_mine"}, "secret"),
        ({"event_types": ["request.received"]}, "url"),
        ({**VALID, "url": 42}, "url"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Org, owner_conn: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    response = await client.post(WEBHOOKS, json=body, headers=au.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [field]
    assert await _endpoints(owner_conn) == []
    assert await _audited(owner_conn, "webhook.create") == []


async def test_malformed_and_oversized_bodies(
    client: AsyncTestClient, au: Org, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    malformed = await client.post(
        WEBHOOKS, content=b'{"url": ', headers={**au.headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    oversized = await client.post(
        WEBHOOKS,
        json={**VALID, "description": "x" * settings.max_body_bytes},
        headers=au.headers,
    )
    assert oversized.status_code == 413
    assert oversized.headers["content-type"].startswith("application/problem+json")
    assert await _endpoints(owner_conn) == []


async def test_another_organisation_cannot_list_see_or_delete(
    client: AsyncTestClient, au: Org, eu: Org, owner_conn: asyncpg.Connection
) -> None:
    endpoint = await register(client, au, "https://cases.au.int/hooks")
    listed = (await client.get(WEBHOOKS, headers=eu.headers)).json()
    assert listed == {"items": [], "next_cursor": None, "total": 0}
    response = await client.delete(f"{WEBHOOKS}/{endpoint['id']}", headers=eu.headers)
    assert response.status_code == 404
    assert len(await _endpoints(owner_conn)) == 1


async def test_no_token_is_401_and_a_missing_scope_403(
    client: AsyncTestClient, settings: Settings, au: Org, owner_conn: asyncpg.Connection
) -> None:
    endpoint = await register(client, au, "https://cases.au.int/hooks")
    reader = bearer(await token_for(client, await add_client(settings, "au", ["directory:read"])))
    for method, path, body in (
        ("GET", WEBHOOKS, None),
        ("POST", WEBHOOKS, VALID),
        ("DELETE", f"{WEBHOOKS}/{endpoint['id']}", None),
    ):
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        denied = await client.request(method, path, json=body, headers=reader)
        assert denied.status_code == 403
        assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    assert len(await _endpoints(owner_conn)) == 1


async def test_an_organisation_may_register_at_most_twenty_endpoints(
    client: AsyncTestClient, au: Org
) -> None:
    for i in range(20):
        await register(client, au, f"https://cases.au.int/{i}")
    response = await client.post(WEBHOOKS, json=VALID, headers=au.headers)
    assert response.status_code == 409
    assert "20" in response.json()["detail"]


def test_the_secret_key_encrypts_endpoint_secrets() -> None:
    from msnet.outbox.service import new_secret, webhook_box

    secret = new_secret()
    token = webhook_box(TEST_SECRET_KEY).encrypt(secret.encode())
    assert webhook_box(TEST_SECRET_KEY).decrypt(token).decode() == secret


NON_PUBLIC = [
    "http://127.0.0.1:8080/hooks",
    "https://10.1.2.3/hooks",
    "https://192.168.0.7/hooks",
    "http://[::1]/hooks",
    "http://localhost:9000/hooks",
    "https://hooks.localhost/msnet",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hooks",
    "http://0.0.0.0/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
]


async def test_endpoints_on_non_public_addresses_are_refused(
    settings: Settings, au: Org, owner_conn: asyncpg.Connection
) -> None:
    """Every URL of NON_PUBLIC against one app; after each, no endpoint more than before it (none)."""
    failures: list[str] = []
    stored: list[asyncpg.Record] = []
    public_only = create_app(replace(settings, webhook_private_addresses=False))
    async with AsyncTestClient(public_only, base_url=TEST_ISSUER) as client:
        for url in NON_PUBLIC:
            response = await client.post(
                WEBHOOKS, json={"url": url, "event_types": ["request.received"]}, headers=au.headers
            )
            if response.status_code != 422:
                failures.append(f"{url}: {response.status_code} {response.text}")
            else:
                errors = response.json()["errors"]
                if [e["field"] for e in errors] != ["url"]:
                    failures.append(f"{url}: names {[e['field'] for e in errors]}, not ['url']")
                elif "MSNET_WEBHOOK_PRIVATE_ADDRESSES=on" not in errors[0]["message"]:
                    failures.append(f"{url}: the message does not name the setting that allows it")
            if (now := await _endpoints(owner_conn)) != stored:
                failures.append(f"{url}: stored {[e['url'] for e in now if e not in stored]}")
                stored = now
    assert failures == [], "\n".join(failures)


async def test_a_public_name_is_accepted_and_checked_again_at_delivery(
    settings: Settings, au: Org, owner_conn: asyncpg.Connection
) -> None:
    public_only = create_app(replace(settings, webhook_private_addresses=False))
    async with AsyncTestClient(public_only, base_url=TEST_ISSUER) as client:
        response = await client.post(
            WEBHOOKS,
            json={"url": "https://hooks.example.org/msnet", "event_types": ["request.received"]},
            headers=au.headers,
        )
    assert response.status_code == 201, response.text
    assert [e["url"] for e in await _endpoints(owner_conn)] == ["https://hooks.example.org/msnet"]
