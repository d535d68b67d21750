"""Identity: access-token verification, OAuth clients, and the database side of the OAuth endpoints."""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from uuid import UUID

from authlib.oauth2.rfc6749 import OAuth2Request
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import decode_cursor, encode_cursor
from msnet.audit.service import AuditEvent, RequestOrigin, record, record_action
from msnet.auth import schemas
from msnet.auth.failures import FailureKey, Verdict, note_failure, record_first
from msnet.auth.keys import ALG, KeyRing, hash_client_secret
from msnet.auth.models import DeniedToken, OAuthClient, UsedAssertion
from msnet.auth.principal import Principal, bearer_challenge
from msnet.auth.server import Exchange, LoadedClient, algorithms_for
from msnet.db.engine import ORG_KEY, set_organisation
from msnet.errors import InvalidInput, MsnetError, NotFound, TooManyRequests, Unauthenticated
from msnet.organisations.models import Organisation

ACCEPTED_TYP = {"at+jwt", "application/at+jwt"}
SECRET_PREFIX = "mss_"  # noqa: S105 (a prefix that makes leaked secrets easy to spot)
MIN_RSA_BITS = 2048  # a client's RSA key for private_key_jwt (NIST SP 800-131A)


class TokenRejected(Exception):
    """An access token that does not verify. ``reason`` is a short code for the audit log and the
    metrics (``malformed``, ``unknown_key``, ``bad_signature``, ``wrong_typ``, ``expired``,
    ``invalid_claims``); ``description`` is what the client is told."""

    def __init__(self, reason: str, description: str = "the access token is not valid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = description


class TokenVerifier:
    """Verifies access tokens (pure CPU, joserfc) and remembers the verified ones until they expire."""

    def __init__(self, issuer: str, cache_size: int = 10_000) -> None:
        self.issuer = issuer
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[Principal, dict[str, Any]]] = OrderedDict()
        self._claims = jwt.JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": issuer},
            exp={"essential": True},
            jti={"essential": True},
            org={"essential": True},
            org_id={"essential": True},
            client_id={"essential": True},
        )

    def __call__(self, token: str, key_ring: KeyRing) -> tuple[Principal, dict[str, Any]]:
        cached = self._cache.get(token)
        if cached is not None:
            if cached[0].expires_at > time.time():
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        try:
            decoded = jwt.decode(token, key_ring.verifying, algorithms=[ALG])
        except BadSignatureError:
            raise TokenRejected("bad_signature") from None
        except InvalidKeyIdError:
            raise TokenRejected("unknown_key") from None
        except (JoseError, ValueError):
            raise TokenRejected("malformed") from None
        if str(decoded.header.get("typ", "")).lower() not in ACCEPTED_TYP:
            raise TokenRejected("wrong_typ")
        try:
            self._claims.validate(decoded.claims)
        except ExpiredTokenError:
            raise TokenRejected("expired", "the access token expired: get a new one") from None
        except JoseError:
            raise TokenRejected("invalid_claims") from None
        claims = decoded.claims
        try:
            principal = Principal(
                org_id=UUID(claims["org_id"]),
                org_slug=str(claims["org"]),
                subject=str(claims["client_id"]),
                scopes=frozenset(str(claims.get("scope", "")).split()),
                credential=str(claims["jti"]),
                expires_at=int(claims["exp"]),
                kind="node" if is_node(str(claims["client_id"])) else "client",
            )
        except (ValueError, TypeError) as exc:
            raise TokenRejected("invalid_claims") from exc
        self._cache[token] = (principal, claims)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return principal, claims


async def is_denied(session: AsyncSession, principal: Principal) -> bool:
    """Revoked token or deleted client (requests check this as their transaction begins)."""
    return bool(await session.scalar(select(exists().where(DeniedToken.value.in_(principal.deny_keys)))))


# --- the OAuth endpoints ---------------------------------------------------------------------


def claimed_client_id(request: OAuth2Request) -> str | None:
    """The client a token-endpoint request claims to be, read before anything is verified."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0])
    assertion = request.form.get("client_assertion")
    if assertion:
        try:
            payload = assertion.split(".")[1]
            claims = jwt.json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError, UnicodeDecodeError):
            return None
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) else None
    return request.form.get("client_id")


def auth_methods_used(request: OAuth2Request) -> list[str]:
    """The client authentication methods a request uses (RFC 6749 §2.3: one at most)."""
    used = []
    if request.headers.get("Authorization") is not None:
        used.append("client_secret_basic")
    if "client_secret" in request.form:
        used.append("client_secret_post")
    if "client_assertion" in request.form or "client_assertion_type" in request.form:
        used.append("private_key_jwt")
    return used


def is_node(client_id: str) -> bool:
    """Whether a client id is a peer node's issuer URL (an organisation's client id is ``slug.…``)."""
    return "://" in client_id


def assertion_key_id(request: OAuth2Request) -> str | None:
    """The ``kid`` in the header of a request's ``client_assertion``, read before anything is verified."""
    assertion = request.form.get("client_assertion") or ""
    try:
        header = jwt.json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "==="))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


#: ``(session, client_id, secret_key, assertion key id)``: the OAuth client a peer node is of this
#: node (``msnet.federation.service.load_node_client``), or None
NodeClients = Callable[[AsyncSession, str, str, str | None], Awaitable[LoadedClient | None]]


async def load_client(
    session: AsyncSession,
    client_id: str | None,
    secret_key: str,
    nodes: NodeClients | None = None,
    key_id: str | None = None,
) -> LoadedClient:
    """The client, read under its own organisation (its id starts with the organisation's slug). An
    id that names no client gets a stand-in that fails every check: the same statements run either
    way, and a secret is hashed either way, so an unknown client answers like a wrong secret. A peer
    node's issuer is loaded by ``nodes`` (its assertion's ``key_id`` may make it refetch the peer's keys)."""
    if client_id and is_node(client_id) and nodes is not None:
        claimed = client_id[:300]
        await session.execute(select(func.set_config("msnet.org", "", True)))
        loaded = await nodes(session, claimed, secret_key, key_id)
        return loaded if loaded is not None else LoadedClient.absent(claimed, secret_key)
    claimed = (client_id or "")[:80]
    org = await session.scalar(select(Organisation).where(Organisation.slug == claimed.partition(".")[0]))
    if org is not None:
        await set_organisation(session, org.id)
    else:
        await session.execute(select(func.set_config("msnet.org", "", True)))  # sees no client
    row = await session.scalar(select(OAuthClient).where(OAuthClient.client_id == claimed))
    if row is None or org is None:
        return LoadedClient.absent(claimed, secret_key)
    return LoadedClient(
        client_id=row.client_id,
        org_id=org.id,
        org_slug=org.slug,
        scopes=list(row.scopes),
        secret_hash=row.secret_hash,
        jwks=row.jwks,
        secret_key=secret_key,
    )


async def consume_assertion(session: AsyncSession, exchange: Exchange) -> bool:
    """Record the assertion's jti; False if it was used before (a replay, even a racing one)."""
    if exchange.used_assertion is None:
        return True
    client_id, jti, exp = exchange.used_assertion
    await session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < func.now()))
    inserted = await session.scalar(
        insert(UsedAssertion)
        .values(client_id=client_id, jti=jti, expires_at=datetime.fromtimestamp(exp, UTC))
        .on_conflict_do_nothing()
        .returning(UsedAssertion.jti)
    )
    return inserted is not None


_EXCHANGE_ACTIONS = {
    "token": "token.issue",
    "revocation": "token.revoke",
    "introspection": "token.introspect",
}


async def record_exchange(
    session: AsyncSession, scope: Any, endpoint: str, exchange: Exchange, status: int, error: str | None
) -> Verdict | None:
    """Account for a token, revocation or introspection request (``endpoint``) that was answered
    ``status``, by the client it claimed to be if that exists ("anonymous" otherwise), for the
    organisation its id names if that exists. A success is recorded; a failure (``error``, the OAuth
    error code) is counted with the failed authentications, and its verdict returned."""
    origin = RequestOrigin.of_session(session)
    registered = exchange.client is not None and exchange.client.registered
    actor = f"client:{exchange.client.client_id}" if registered and exchange.client else "anonymous"
    if status != 200:
        key = FailureKey(origin.source, error or "invalid_request", session.info.get(ORG_KEY), actor)
        verdict = note_failure(scope, key)
        await record_first(session, scope, key, verdict)
        return verdict
    await record(
        session,
        AuditEvent(
            organisation_id=session.info.get(ORG_KEY),
            actor=actor,
            action=_EXCHANGE_ACTIONS[endpoint],
            resource_type="access_token" if endpoint == "token" else "token",
            resource_id=exchange.issued_jti,
            outcome="success",
            request_id=origin.request_id,
            source=origin.source,
            payload={"endpoint": endpoint, "status": status, "error": error},
        ),
    )
    return None


async def deny(session: AsyncSession, value: str, until: datetime) -> None:
    await session.execute(
        insert(DeniedToken)
        .values(value=value, expires_at=until)
        .on_conflict_do_update(index_elements=["value"], set_={"expires_at": until})
    )


async def revoke(session: AsyncSession, principal: Principal) -> None:
    await deny(session, f"jti:{principal.credential}", datetime.fromtimestamp(principal.expires_at, UTC))


# --- clients ---------------------------------------------------------------------------------


def new_client_id(org_slug: str) -> str:
    return f"{org_slug}.{secrets.token_urlsafe(12)}"


def new_client_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _validate_jwks(jwks: dict[str, Any]) -> None:
    short = [str(k.get("kid") or n) for n, k in enumerate(_rsa_keys(jwks)) if _rsa_bits(k) < MIN_RSA_BITS]
    if short:  # before joserfc reads them: it takes a short key with a mere warning
        raise InvalidInput.field(
            "jwks", f"RSA keys need at least {MIN_RSA_BITS} bits; too short: {', '.join(short)}"
        )
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except Exception:
        raise InvalidInput.field("jwks", "is not a JSON Web Key Set") from None
    if any(k.is_private for k in key_set.keys):
        raise InvalidInput.field("jwks", "must hold public keys only")
    if not algorithms_for(key_set):
        raise InvalidInput.field("jwks", "needs an RSA, EC (P-256/384/521) or Ed25519 key")


def _rsa_keys(jwks: dict[str, Any]) -> list[dict[str, Any]]:
    keys = jwks.get("keys")
    return (
        [k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA"] if isinstance(keys, list) else []
    )


def _rsa_bits(key: dict[str, Any]) -> int:
    """The size of an RSA JWK's modulus (its ``n``, base64url); 0 if it has none that decodes."""
    n = key.get("n")
    if not isinstance(n, str):
        return 0
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))).bit_length()
    except ValueError:
        return 0


def to_schema(row: OAuthClient, org_slug: str) -> schemas.Client:
    return schemas.Client(
        client_id=row.client_id,
        organisation=org_slug,
        name=row.name,
        scopes=sorted(row.scopes),
        auth_method="private_key_jwt" if row.jwks is not None else "client_secret_basic",
        created_at=row.created_at,
        created_by=row.created_by,
    )


async def create_client(
    session: AsyncSession,
    org: Organisation,
    data: schemas.ClientCreate,
    *,
    secret_key: str,
    created_by: str,
) -> schemas.ClientCreated:
    """A new client of ``org``, recorded nowhere: the operator's command line, which records its own
    entry, calls this; a principal registers a client with :func:`register_client`."""
    jwks = data.jwks if data.jwks is not None else None
    if jwks is not None:
        _validate_jwks(jwks)
    secret = None if jwks is not None else new_client_secret()
    row = OAuthClient(
        organisation_id=org.id,
        client_id=new_client_id(org.slug),
        name=data.name,
        scopes=sorted(set(data.scopes)),
        secret_hash=hash_client_secret(secret_key, secret) if secret else None,
        jwks=jwks,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return schemas.ClientCreated(**schemas.as_dict(to_schema(row, org.slug)), client_secret=secret)


async def register_client(
    session: AsyncSession,
    principal: Principal,
    org: Organisation,
    data: schemas.ClientCreate,
    *,
    secret_key: str,
) -> schemas.ClientCreated:
    """A new client of ``org``, created by ``principal`` and recorded as its doing."""
    created = await create_client(session, org, data, secret_key=secret_key, created_by=principal.actor)
    await record_action(
        session,
        principal,
        "client.create",
        "client",
        created.client_id,
        {"name": data.name, "scopes": sorted(data.scopes), "jwks": data.jwks is not None},
    )
    return created


async def list_clients(
    session: AsyncSession, org: Organisation, *, limit: int, cursor: str | None
) -> schemas.ClientPage:
    query = select(OAuthClient).where(OAuthClient.organisation_id == org.id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    if cursor:
        (after,) = decode_cursor(cursor, str)
        query = query.where(OAuthClient.client_id > after)
    rows = list(await session.scalars(query.order_by(OAuthClient.client_id).limit(limit + 1)))
    return schemas.ClientPage(
        items=[to_schema(r, org.slug) for r in rows[:limit]],
        next_cursor=encode_cursor(rows[limit - 1].client_id) if len(rows) > limit else None,
        total=total or 0,
    )


async def _get_client(session: AsyncSession, org: Organisation, client_id: str) -> OAuthClient:
    """The client, locked until the transaction ends: a concurrent delete or rotation waits, then
    finds it gone (404) or rotates what the first left."""
    row = await session.scalar(
        select(OAuthClient)
        .where(OAuthClient.organisation_id == org.id, OAuthClient.client_id == client_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"no client '{client_id}' in '{org.slug}'")
    return row


async def delete_client(
    session: AsyncSession, principal: Principal, org: Organisation, client_id: str, token_ttl: int
) -> None:
    """Deleted, and every token it holds stops working at once."""
    row = await _get_client(session, org, client_id)
    await session.delete(row)
    await deny(session, f"client:{client_id}", datetime.now(UTC) + timedelta(seconds=token_ttl + 60))
    await session.flush()
    await record_action(session, principal, "client.delete", "client", client_id)


async def rotate_secret(
    session: AsyncSession, org: Organisation, client_id: str, *, secret_key: str
) -> schemas.ClientCreated:
    """The client with a new secret, recorded nowhere: the demo, which records its own entry, calls
    this; a principal rotates a secret with :func:`rotate_client_secret`."""
    row = await _get_client(session, org, client_id)
    if row.secret_hash is None:
        raise InvalidInput.field("client_id", "authenticates with keys (private_key_jwt), not a secret")
    secret = new_client_secret()
    row.secret_hash = hash_client_secret(secret_key, secret)
    row.secret_rotated_at = datetime.now(UTC)
    await session.flush()
    return schemas.ClientCreated(**schemas.as_dict(to_schema(row, org.slug)), client_secret=secret)


async def rotate_client_secret(
    session: AsyncSession, principal: Principal, org: Organisation, client_id: str, *, secret_key: str
) -> schemas.ClientCreated:
    """The client with a new secret, rotated by ``principal`` and recorded as its doing."""
    rotated = await rotate_secret(session, org, client_id, secret_key=secret_key)
    await record_action(session, principal, "client.rotate_secret", "client", client_id)
    return rotated


def refused(detail: str, verdict: Verdict) -> MsnetError:
    """401 with an RFC 6750 challenge (``detail`` as its description), or 429 with ``Retry-After``
    when the failure's source is refused (``verdict``)."""
    if verdict.retry_after is not None:
        return TooManyRequests(
            f"too many failed authentications from this address; retry in {verdict.retry_after} s",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    return Unauthenticated(detail, headers=bearer_challenge("invalid_token", description=detail))
