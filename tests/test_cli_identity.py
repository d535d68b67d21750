"""`msnet client create`, `msnet keys …` and `msnet audit verify`, run as an operator would."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_organisation, run_cli


def _count_clients(settings: Settings) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(settings.database_admin_url)
        try:
            async with conn.transaction():
                org = await conn.fetchval("SELECT id FROM organisations WHERE slug = 'au'")
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org))
                return await conn.fetchval("SELECT count(*) FROM oauth_clients")
        finally:
            await conn.close()

    return asyncio.run(count())


async def test_client_create_prints_a_working_secret(client: AsyncTestClient, settings: Settings) -> None:
    await add_organisation(settings, "au")
    result = run_cli(
        settings,
        "client",
        "create",
        "--org",
        "au",
        "--name",
        "Roster sync",
        "--scopes",
        "audit:read org:admin",
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["client_id"].startswith("au.")
    assert created["client_secret"].startswith("mss_")
    assert created["scopes"] == ["audit:read", "org:admin"]
    token = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert token.status_code == 200
    assert token.json()["scope"] == "audit:read org:admin"


async def test_client_create_with_a_jwks_file(
    client: AsyncTestClient, settings: Settings, tmp_path: Path
) -> None:
    await add_organisation(settings, "au")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [RSAKey.generate_key(2048).as_dict(private=False)]}))
    result = run_cli(
        settings,
        "client",
        "create",
        "--org",
        "au",
        "--name",
        "Keys",
        "--scopes",
        "audit:read",
        "--jwks-file",
        str(jwks),
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert "client_secret" not in created
    assert created["auth_method"] == "private_key_jwt"


def test_client_create_rejects_bad_input_and_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    asyncio.run(add_organisation(settings, "au"))
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [RSAKey.generate_key(2048).as_dict(private=True)]}))
    for args, complaint in (
        (["--org", "au", "--name", "X1", "--scopes", "everything"], "scopes"),
        (["--org", "atlantis", "--name", "X1", "--scopes", "audit:read"], "no organisation 'atlantis'"),
        (
            ["--org", "au", "--name", "X1", "--scopes", "audit:read", "--jwks-file", str(private)],
            "public keys",
        ),
        (
            ["--org", "au", "--name", "X1", "--scopes", "audit:read", "--jwks-file", str(tmp_path / "none")],
            "jwks-file",
        ),
    ):
        result = run_cli(settings, "client", "create", *args)
        assert result.returncode == 1, args
        assert complaint in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert _count_clients(settings) == 0


def test_keys_secret_prints_a_usable_value() -> None:
    result = run_cli(None, "keys", "secret", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert Settings.from_env({"MSNET_SECRET_KEY": result.stdout.strip()}).secret_key == result.stdout.strip()


async def test_keys_rotate_adds_a_signing_key(
    client: AsyncTestClient, settings: Settings, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    before = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    result = run_cli(settings, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    rows = await owner_conn.fetch("SELECT kid, retired_at FROM signing_keys ORDER BY created_at")
    assert {r["kid"] for r in rows[:-1]} == before
    assert rows[-1]["retired_at"] is None
    assert all(r["retired_at"] is not None for r in rows[:-1])
    assert rows[-1]["kid"] in result.stdout


def test_audit_verify_passes_then_names_a_tampered_entry(settings: Settings) -> None:
    asyncio.run(add_organisation(settings, "au"))
    for name in ("One", "Two", "Three"):
        assert (
            run_cli(
                settings, "client", "create", "--org", "au", "--name", name, "--scopes", "audit:read"
            ).returncode
            == 0
        )
    intact = run_cli(settings, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "3 entries checked" in intact.stdout

    async def tamper() -> None:
        conn = await asyncpg.connect(settings.database_admin_url)
        try:
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await conn.execute("ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY")
            await conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        finally:
            await conn.close()

    asyncio.run(tamper())
    broken = run_cli(settings, "audit", "verify")
    assert broken.returncode == 1
    assert "entry 2" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
