"""What several test modules share."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.settings import Settings


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(
        MSNET_DATABASE_URL=settings.database_url or "",
        MSNET_DATABASE_ADMIN_URL=settings.database_admin_url or "",
        MSNET_PUBLIC_URL=settings.issuer,
        MSNET_SECRET_KEY=settings.secret_key or "",
        MSNET_WEBHOOK_PRIVATE_ADDRESSES="on" if settings.webhook_private_addresses else "off",
        MSNET_LOG_FORMAT="json",
        MSNET_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


def run_cli(settings: Settings | None, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    """Run ``msnet ARGS`` in a fresh process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "msnet", *args],
        env=env if env is not None else cli_env(settings),  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def add_organisation(settings: Settings, slug: str) -> None:
    from msnet.db.runtime import cli_session
    from msnet.organisations import schemas, service

    async with cli_session(settings.database_url) as session:  # type: ignore[arg-type]
        await service.create_organisation(
            session,
            schemas.OrganisationCreate(slug=slug, name=f"Organisation {slug.upper()}"),
            origin=settings.issuer,
        )


async def add_client(  # type: ignore[no-untyped-def]
    settings: Settings,
    slug: str,
    scopes: list[str],
    jwks: dict | None = None,
    sessions: async_sessionmaker | None = None,
):
    """A client of organisation ``slug`` (created if missing), as `msnet client create` would make it,
    in one transaction: from ``sessions`` if given, else on an engine made for it (which is most of
    what this costs: 18 ms of CPU a client against 6-8 ms on an engine made before)."""
    from msnet.auth import schemas, service
    from msnet.db.engine import set_organisation
    from msnet.db.runtime import cli_session
    from msnet.errors import NotFound
    from msnet.organisations import service as organisations
    from msnet.organisations.schemas import OrganisationCreate

    async with (
        sessions.begin() if sessions is not None else cli_session(settings.database_url)  # type: ignore[arg-type]
    ) as session:
        try:
            org = await organisations.get_by_slug(session, slug)
        except NotFound:
            org = await organisations.create_organisation(
                session,
                OrganisationCreate(slug=slug, name=f"Organisation {slug.upper()}"),
                origin=settings.issuer,
            )
        await set_organisation(session, org.id)
        return await service.create_client(
            session,
            org,
            schemas.ClientCreate(name=f"{slug} test client", scopes=scopes, jwks=jwks),
            secret_key=settings.secret_key,  # type: ignore[arg-type]
            created_by="operator",
        )


async def token_for(client, created, scope: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """An access token from the real token endpoint, with client_secret_basic."""
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **({"scope": scope} if scope else {})},
        auth=(created.client_id, created.client_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Caller:
    """A client of organisation ``slug``: ``headers`` carry its access token."""

    slug: str
    headers: dict[str, str]


async def new_caller(  # type: ignore[no-untyped-def]
    client, settings: Settings, slug: str, scopes: Iterable[str], sessions: async_sessionmaker | None = None
) -> Caller:
    """A new client of ``slug`` (the organisation made if missing) holding ``scopes`` (``add_client``,
    from ``sessions`` if given), with a token from ``client``'s token endpoint. Tests take the
    ``make_caller`` fixture, which is this on the test's own client, settings and engine."""
    created = await add_client(settings, slug, list(scopes), sessions=sessions)
    return Caller(slug, bearer(await token_for(client, created)))


MakeCaller = Callable[[str, Iterable[str]], Awaitable[Caller]]


async def org_ids(conn) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every organisation's id by slug (the registry is public: no row-level security)."""
    return {r["slug"]: r["id"] for r in await conn.fetch("SELECT slug, id FROM organisations")}


async def clients_as_owner(conn) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Every OAuth client row by client_id, read as the schema owner one organisation at a time:
    the owner is subject to forced row-level security too, so it must say whose rows it reads."""
    rows: dict[str, dict] = {}
    for org_id in (await org_ids(conn)).values():
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org_id))
            for r in await conn.fetch("SELECT * FROM oauth_clients"):
                rows[r["client_id"]] = dict(r)
    return rows


async def waiting_on_locks(conn: Any) -> int:
    """How many backends of this database wait for a lock. The activity view is a snapshot taken
    once a transaction, and ``conn`` is inside one (holding the lock): it is taken afresh here, or a
    backend that connected since the first look would never be counted."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return await conn.fetchval(
        "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid IN "
        "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
    )


async def assert_every_case(cases: Iterable[tuple[Any, ...]], check: Callable[..., Awaitable[None]]) -> None:
    """Run ``check(*case)`` for every case of a table whose rows begin with the case's name, all on
    one database and one caller (a parametrized case would cost a database and a token, while its
    request takes milliseconds); then fail naming every case that failed, each with its assertion."""
    failures = []
    for name, *args in cases:
        try:
            await check(*args)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert failures == [], "\n\n".join(failures)
