"""Each organisation's identity provider: registered by its administrator (``msnet org idp set`` or
``/admin/idp``), the client secret encrypted with a key derived from the node's secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.keys import secret_box
from msnet.auth.principal import Principal
from msnet.errors import InvalidInput
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from msnet.web.models import IdentityProvider
from msnet.web.oidc import Client, issuer_problems

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLAIM = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")


def _box(secret_key: str):  # type: ignore[no-untyped-def]
    return secret_box(secret_key, b"identity-provider-secrets")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    issuer: str
    client_id: str
    #: ``None``: keep the one registered
    client_secret: str | None
    email_domains: list[str]
    role_claim: str | None


async def get(session: AsyncSession, org_id: UUID) -> IdentityProvider | None:
    return await session.get(IdentityProvider, org_id)


def client_of(provider: IdentityProvider, settings: Settings) -> Client:
    """The organisation's registration at its provider, as msnet calls it under ``settings``."""
    secret = _box(settings.secret_key or "").decrypt(provider.client_secret_encrypted.encode()).decode()
    return Client(provider.issuer, provider.client_id, secret, settings.identity_provider_private_addresses)


async def with_providers(session: AsyncSession) -> list[Organisation]:
    """The organisations whose people can sign in here, by name."""
    return list(
        await session.scalars(
            select(Organisation)
            .join(IdentityProvider, IdentityProvider.organisation_id == Organisation.id)
            .where(Organisation.home.is_(None))
            .order_by(Organisation.name)
        )
    )


def normalise_domains(domains: list[str]) -> list[str]:
    return sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})


async def set_provider(
    session: AsyncSession,
    principal: Principal,
    data: ProviderSettings,
    *,
    secret_key: str,
    private_addresses: bool,
) -> IdentityProvider:
    """Register or change the principal's organisation's provider; every bad field named at once,
    nothing written then. Audited as ``identity_provider.set`` (never with the secret)."""
    current = await get(session, principal.org_id)
    domains = normalise_domains(data.email_domains)
    errors: list[dict[str, str]] = []

    def add(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    for problem in issuer_problems(data.issuer, private_addresses=private_addresses):
        add("issuer", problem)
    if not 1 <= len(data.client_id) <= 200 or data.client_id != data.client_id.strip():
        add("client_id", "must be 1 to 200 characters, without surrounding spaces")
    if data.client_secret is None and current is None:
        add("client_secret", "is required to register a provider")
    if data.client_secret is not None and not 1 <= len(data.client_secret) <= 1000:
        add("client_secret", "must be 1 to 1000 characters")
    for domain in domains:
        if not _DOMAIN.match(domain):
            add("email_domains", f"'{domain}' is not a domain name")
    if data.role_claim is not None and not _CLAIM.match(data.role_claim):
        add("role_claim", "must be a claim name: letters, digits and _ : . / -, at most 100")
    if errors:
        raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    provider = current or IdentityProvider(organisation_id=principal.org_id)
    if current is None:
        session.add(provider)
    provider.issuer = data.issuer
    provider.client_id = data.client_id
    if data.client_secret is not None:
        provider.client_secret_encrypted = _box(secret_key).encrypt(data.client_secret.encode()).decode()
    provider.email_domains = domains
    provider.role_claim = data.role_claim
    provider.updated_by = principal.actor
    provider.updated_at = datetime.now(UTC)
    await session.flush()
    await record_action(
        session,
        principal,
        "identity_provider.set",
        "identity_provider",
        principal.org_slug,
        {
            "issuer": data.issuer,
            "client_id": data.client_id,
            "secret_changed": data.client_secret is not None,
            "email_domains": domains,
            "role_claim": data.role_claim,
        },
    )
    return provider
