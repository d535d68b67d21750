"""The bare stack msnet is built on, for bench/overhead.py: Litestar and an asyncpg pool, nothing else.

    BENCH_URL=postgresql://msnet_app@… BENCH_ISSUER=http://… BENCH_JWKS='{"keys": …}' \\
    BENCH_STATEMENTS=<base64 pickle> .venv/bin/python -m uvicorn bare_app:app --app-dir bench

It answers the paths bench/overhead.py drives, doing the database work msnet does for them: one
transaction per request on the service role (row-level security applies), opened with the tenant
statement msnet sends (``set_config('msnet.org', …, true)``, with the deny-list check in the same
round trip when a token came), then

- the reads (``GET /v1/organisations/{slug}``, ``/v1/offices``, ``/v1/experts``): the statements msnet
  ran for the same path, captured with their parameters by the bench (``BENCH_STATEMENTS``) and run in
  turn; every row becomes a JSON object of the response;
- ``PATCH /v1/offices/{id}``: msnet's statements (``PATCH_STATEMENTS``, which the bench checks against
  what msnet runs): the caller's own office locked and read with its organisation's home node (only
  a record homed here is written), the version checked against ``If-Match`` (``*`` or none skips it,
  as msnet does), updated and read back in one statement, and the audit entry appended under the
  head lock with the hash chain msnet's verifier checks.

A token is verified with joserfc (signature, typ, iss, aud, exp) once and remembered until it expires,
as msnet's TokenVerifier does; the principal is the organisation, the client and the token id.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Litestar, Request, Response, get, patch
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException

from msnet.audit.service import entry_hash, payload_digest
from msnet.db.base import new_id

SET_ORG = "SELECT set_config('msnet.org', $1, true)"
SET_ORG_AND_CHECK = (
    "SELECT set_config('msnet.org', $1, true), "
    "EXISTS (SELECT 1 FROM token_denylist WHERE value = ANY(CAST($2 AS text[])))"
)
OFFICE_COLUMNS = (
    "offices.organisation_id, offices.name, offices.mandate, offices.parent_structure, offices.staff_size, "
    "offices.role_mailbox, offices.sharing, offices.share_with, offices.id, offices.origin, offices.version, "
    "offices.created_at, offices.updated_at"
)
#: What msnet runs for an office PATCH after the tenant statement, in order (SQLAlchemy's text, and the
#: audit statements msnet runs on the driver).
PATCH_STATEMENTS = (
    f"SELECT {OFFICE_COLUMNS}, organisations.home \nFROM offices JOIN organisations ON organisations.id ="
    " offices.organisation_id \nWHERE offices.id = $1::UUID AND offices.organisation_id = $2::UUID"
    " FOR UPDATE OF offices",
    "UPDATE offices SET staff_size=$1::INTEGER, version=$2::INTEGER, updated_at=now() WHERE offices.id ="  # noqa: S608 (constants)
    f" $3::UUID RETURNING {OFFICE_COLUMNS}",
    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    """
    WITH entry AS (
        INSERT INTO audit_log (seq, id, at, organisation_id, actor, action, resource_type, resource_id,
                               outcome, request_id, source, payload_digest, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    )
    UPDATE audit_head SET seq = $1, hash = $14 WHERE id = 1
    """,
)
LOCK_OFFICE, UPDATE_OFFICE, LOCK_HEAD, APPEND = PATCH_STATEMENTS


class Principal(msgspec.Struct, frozen=True):
    org_id: str
    client_id: str
    jti: str
    expires_at: int


class OfficeUpdate(msgspec.Struct, forbid_unknown_fields=True):
    staff_size: int


class Verifier:
    """joserfc's verification of an access token, remembered per token until it expires."""

    def __init__(self, issuer: str, jwks: dict[str, Any]) -> None:
        self.keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        self.claims = jwt.JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": issuer},
            exp={"essential": True},
        )
        self.cache: dict[str, Principal] = {}

    def __call__(self, header: str) -> Principal:
        token = header.partition(" ")[2].strip()
        principal = self.cache.get(token)
        if principal is not None and principal.expires_at > time.time():
            return principal
        try:
            decoded = jwt.decode(token, self.keys, algorithms=["RS256"])
            if decoded.header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
                raise NotAuthorizedException("typ is not at+jwt")
            self.claims.validate(decoded.claims)
        except (JoseError, ValueError):
            raise NotAuthorizedException("the access token is not valid") from None
        claims = decoded.claims
        principal = Principal(claims["org_id"], claims["client_id"], claims["jti"], int(claims["exp"]))
        self.cache[token] = principal
        return principal


STATEMENTS: dict[str, list[tuple[str, list[Any]]]] = {}
verify: Verifier
pool: asyncpg.Pool


async def start() -> None:
    """The captured statements, the node's keys and a pool as msnet's: 10 connections and as many again."""
    global verify, pool
    STATEMENTS.update(pickle.loads(base64.b64decode(os.environ["BENCH_STATEMENTS"])))  # noqa: S301 (the bench's)
    verify = Verifier(os.environ["BENCH_ISSUER"], json.loads(os.environ["BENCH_JWKS"]))
    pool = await asyncpg.create_pool(
        os.environ["BENCH_URL"], min_size=10, max_size=20, server_settings={"application_name": "bare"}
    )


async def stop() -> None:
    await pool.close()


async def begin(conn: asyncpg.Connection, principal: Principal | None) -> None:
    """The tenant statement, and for a token the deny-list check in the same round trip."""
    if principal is None:
        await conn.fetchrow(SET_ORG, "")
        return
    keys = [f"jti:{principal.jti}", f"client:{principal.client_id}"]
    if (await conn.fetchrow(SET_ORG_AND_CHECK, principal.org_id, keys))[1]:
        raise NotAuthorizedException("the access token was revoked or its client deleted")


def optional_principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization")
    return None if header is None else verify(header)


async def replay(name: str, principal: Principal | None) -> list[list[dict[str, Any]]]:
    async with pool.acquire() as conn, conn.transaction():
        await begin(conn, principal)
        return [[dict(r) for r in await conn.fetch(sql, *params)] for sql, params in STATEMENTS[name]]


@get("/v1/organisations/{slug:str}")
async def organisation(request: Request, slug: str) -> list[list[dict[str, Any]]]:
    return await replay("organisation", optional_principal(request))


@get("/v1/offices")
async def offices(request: Request) -> list[list[dict[str, Any]]]:
    return await replay("offices", optional_principal(request))


@get("/v1/experts")
async def experts(request: Request) -> list[list[dict[str, Any]]]:
    return await replay("experts", optional_principal(request))


@patch("/v1/offices/{office_id:uuid}")
async def update_office(request: Request, office_id: uuid.UUID) -> Response[dict[str, Any]]:
    principal = optional_principal(request)
    if principal is None:
        raise NotAuthorizedException("send an access token")
    data = msgspec.json.decode(await request.body(), type=OfficeUpdate)
    if_match = request.headers.get("if-match")
    org_id = uuid.UUID(principal.org_id)
    async with pool.acquire() as conn, conn.transaction():
        await begin(conn, principal)
        office = await conn.fetchrow(LOCK_OFFICE, office_id, org_id)
        if office is None:
            raise NotFoundException("no such office of yours")
        if office["home"] is not None:
            raise HTTPException(status_code=409, detail="a copy of a record homed elsewhere")
        if if_match not in (None, "*") and if_match.strip('W/"') != str(office["version"]):
            raise HTTPException(status_code=412, detail=f"the record is at version {office['version']}")
        office = await conn.fetchrow(UPDATE_OFFICE, data.staff_size, office["version"] + 1, office_id)
        digest = payload_digest(data)
        head = await conn.fetchrow(LOCK_HEAD)
        fields: dict[str, Any] = {
            "seq": head["seq"] + 1,
            "id": new_id(),
            "at": datetime.now(UTC),
            "organisation_id": org_id,
            "actor": f"client:{principal.client_id}",
            "action": "office.update",
            "resource_type": "office",
            "resource_id": str(office_id),
            "outcome": "success",
            "request_id": uuid.uuid4().hex,
            "source": request.client.host if request.client else None,
            "payload_digest": digest,
            "prev_hash": head["hash"],
        }
        fields["hash"] = entry_hash(fields)
        await conn.execute(APPEND, *fields.values())
    return Response(dict(office), headers={"ETag": f'"{office["version"]}"'})


app = Litestar(
    route_handlers=[organisation, offices, experts, update_office],
    on_startup=[start],
    on_shutdown=[stop],
    logging_config=None,
)
