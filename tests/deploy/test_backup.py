"""`msnet backup` and `msnet restore` of the embedded database: a node restored into a new data
directory, with the same MSNET_SECRET_KEY, verifies its audit chain and serves the same records to
the same clients (their secrets and the node's signing key come back with it)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from msnet.app import create_app
from msnet.auth.keys import new_secret_key
from msnet.db.runtime import database
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER
from tests.helpers import add_client, bearer, run_cli, token_for

OFFICES = [
    {"name": "Mediation Support Unit", "sharing": "network"},
    {"name": "Standby Team of Senior Mediation Advisers", "sharing": "private"},
]


def _node(data_dir: Path, secret_key: str) -> Settings:
    return Settings(data_dir=data_dir, public_url=TEST_ISSUER, secret_key=secret_key, worker=False)


def _env(node: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(
        MSNET_DATA_DIR=str(node.data_dir),
        MSNET_SECRET_KEY=node.secret_key or "",
        MSNET_PUBLIC_URL=TEST_ISSUER,
        MSNET_LOG_FORMAT="json",
        MSNET_LOG_LEVEL="warning",
    )
    return env


async def _write_records(ready: Settings) -> tuple[Any, list[dict[str, Any]]]:
    created = await add_client(ready, "au", ["directory:read", "directory:write"])
    async with AsyncTestClient(app=create_app(ready)) as client:
        headers = bearer(await token_for(client, created))
        for office in OFFICES:
            response = await client.post("/v1/offices", json=office, headers=headers)
            assert response.status_code == 201, response.text
        return created, await _offices(client, headers)


async def _offices(client: AsyncTestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/offices", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _served(ready: Settings, created: Any) -> list[dict[str, Any]]:
    async with AsyncTestClient(app=create_app(ready)) as client:
        return await _offices(client, bearer(await token_for(client, created)))


def _audit_verify(node: Settings) -> str:
    result = run_cli(None, "audit", "verify", env=_env(node), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_restored_node_verifies_its_chain_and_serves_the_same_records(tmp_path: Path) -> None:
    key = new_secret_key()
    first, second = _node(tmp_path / "first", key), _node(tmp_path / "second", key)
    with database(first) as ready:
        created, offices = asyncio.run(_write_records(ready))
    assert len(offices) == len(OFFICES)
    verified = _audit_verify(first)
    assert not verified.endswith(" 0 entries checked")

    dump = tmp_path / "node.dump"
    backed_up = run_cli(None, "backup", str(dump), env=_env(first), timeout=120)
    assert backed_up.returncode == 0, backed_up.stderr
    assert "dumped public.audit_log" in backed_up.stderr
    assert "dumped public.signing_keys" in backed_up.stderr

    restored = run_cli(None, "restore", str(dump), env=_env(second), timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert "restored public.offices" in restored.stderr
    assert _audit_verify(second) == verified
    with database(second) as ready:
        assert asyncio.run(_served(ready, created)) == offices


def test_restore_refuses_a_database_with_data_unless_forced(tmp_path: Path) -> None:
    node = _node(tmp_path / "node", new_secret_key())
    dump = tmp_path / "node.dump"
    with database(node) as ready:
        created, offices = asyncio.run(_write_records(ready))
    assert run_cli(None, "backup", str(dump), env=_env(node), timeout=120).returncode == 0
    with database(node) as ready:
        asyncio.run(add_client(ready, "eu", ["directory:read"]))

    refused = run_cli(None, "restore", str(dump), env=_env(node), timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"msnet: the database in {node.data_dir} already holds data; restore into a new "
        "MSNET_DATA_DIR, or add --force to replace it"
    )
    forced = run_cli(None, "restore", "--force", str(dump), env=_env(node), timeout=120)
    assert forced.returncode == 0, forced.stderr
    with database(node) as ready:
        assert asyncio.run(_served(ready, created)) == offices
        organisations = asyncio.run(_organisations(ready))
    assert organisations == ["au"]  # what was written after the backup is gone


async def _organisations(ready: Settings) -> list[str]:
    async with AsyncTestClient(app=create_app(ready)) as client:
        response = await client.get("/v1/organisations")
        assert response.status_code == 200, response.text
        return [org["slug"] for org in response.json()["items"]]
