"""The node's secret key, and the signing keys it protects: created, loaded, rotated, published."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from msnet.auth.models import SigningKey
from msnet.errors import SettingsError
from msnet.logs import get_logger
from msnet.settings import Settings

ALG = "RS256"
RELOAD_EVERY = 60.0  # the token endpoint picks up a rotated key within this many seconds
MIN_RELOAD_INTERVAL = 1.0  # an unknown kid (or a JWKS request) reloads the ring at most this often
log = get_logger("msnet.keys")


def new_secret_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def ensure_secret_key(settings: Settings) -> Settings:
    """Settings with a secret key: the configured one, or (embedded only) the data directory's own."""
    if settings.secret_key:
        return settings
    if not settings.embedded:
        raise SettingsError(
            "MSNET_SECRET_KEY: required with MSNET_DATABASE_URL (make one: `msnet keys secret`)"
        )
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_secret_key() + "\n")
        log.warning("created a secret key for this node; back it up with the data", path=str(path))
    return replace(settings, secret_key=Path(path).read_text().strip())


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    """A key for one ``purpose`` (HMAC-SHA256 of it under the node's secret key): keys never repeat
    across uses."""
    raw = base64.urlsafe_b64decode(secret_key + "=" * (-len(secret_key) % 4))
    return hmac.new(raw, purpose, hashlib.sha256).digest()


def hash_client_secret(secret_key: str, client_secret: str) -> str:
    """HMAC-SHA256 of a (256-bit random) client secret, peppered with the node's secret key."""
    return hmac.new(
        derive_key(secret_key, b"client-secret"), client_secret.encode(), hashlib.sha256
    ).hexdigest()


def secret_box(secret_key: str, purpose: bytes) -> Fernet:
    """Authenticated encryption under a key derived from the node's secret key, one per ``purpose``."""
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))


def _fernet(secret_key: str) -> Fernet:
    return secret_box(secret_key, b"signing-keys")


async def create_signing_key(session: AsyncSession, secret_key: str) -> str:
    """A new RSA key becomes the signing key; the previous one is retired but still verifies."""
    key = RSAKey.generate_key(2048, parameters={"alg": ALG, "use": "sig"}, auto_kid=True)
    kid = str(key.kid)
    await session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=datetime.now(UTC))
    )
    session.add(
        SigningKey(
            kid=kid,
            alg=ALG,
            public_jwk=key.as_dict(private=False),
            private_jwk_encrypted=_fernet(secret_key)
            .encrypt(json.dumps(key.as_dict(private=True)).encode())
            .decode(),
        )
    )
    await session.flush()
    return kid


@dataclass
class KeyRing:
    """Signing key and every key that still verifies; reloaded from the database now and then."""

    signing: RSAKey
    verifying: KeySet
    loaded_at: float = field(default_factory=time.monotonic)

    @classmethod
    def unloaded(cls) -> KeyRing:
        """The ring of a node that started while its database was out of reach: no key, and
        stale, so its first use loads the keys (or answers 503 while the database is still away)."""
        return cls(signing=None, verifying=KeySet([]), loaded_at=-math.inf)  # type: ignore[arg-type]

    def public_jwks(self) -> dict[str, Any]:
        return self.verifying.as_dict(private=False)

    def stale(self) -> bool:
        return time.monotonic() - self.loaded_at > RELOAD_EVERY

    def recently_loaded(self) -> bool:
        return time.monotonic() - self.loaded_at < MIN_RELOAD_INTERVAL


async def load_key_ring(
    sessionmaker: async_sessionmaker, settings: Settings, previous: KeyRing | None = None
) -> KeyRing:
    """Keys created in the last token lifetime verify; the newest unretired one signs (created if none).
    Keys ``previous`` holds already are taken from it, not imported again: importing the private key
    checks it, some 35 ms of CPU in which the process answers nothing else."""
    assert settings.secret_key
    async with sessionmaker() as session, session.begin():
        if (
            await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1))
            is None
        ):
            await create_signing_key(session, settings.secret_key)
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.access_token_ttl + 60)
        rows = list(
            await session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None) | (SigningKey.retired_at > cutoff))
                .order_by(SigningKey.created_at.desc())
            )
        )
    current = next(r for r in rows if r.retired_at is None)
    known = {str(k.kid): k for k in previous.verifying.keys} if previous else {}
    if previous is not None and previous.signing is not None and str(previous.signing.kid) == current.kid:
        signing = previous.signing
    else:
        fernet = _fernet(settings.secret_key)
        signing = RSAKey.import_key(json.loads(fernet.decrypt(current.private_jwk_encrypted.encode())))
    verifying = [known.get(r.kid) or RSAKey.import_key(r.public_jwk) for r in rows]
    return KeyRing(signing=signing, verifying=KeySet(verifying))
