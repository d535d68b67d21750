"""The demo network: the ten organisations of the 2018 UN–EU technical expert workshop (Nairobi),
loaded idempotently; each capability adds its part."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import AuditEvent, record
from msnet.auth import schemas as auth_schemas
from msnet.auth import service as auth
from msnet.auth.models import OAuthClient
from msnet.auth.principal import SCOPES
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.directory import schemas, service
from msnet.directory.models import Organisation
from msnet.settings import Settings

ORGANISATIONS = [
    schemas.OrganisationCreate(
        slug="au", name="African Union", acronym="AU", kind="regional", identifiers=["XI-WIKIDATA-Q7159"]
    ),
    schemas.OrganisationCreate(
        slug="commonwealth",
        name="The Commonwealth",
        acronym="Commonwealth",
        kind="interregional",
        identifiers=["XI-WIKIDATA-Q7785"],
    ),
    schemas.OrganisationCreate(slug="eac", name="East African Community", acronym="EAC", kind="subregional"),
    schemas.OrganisationCreate(
        slug="eccas", name="Economic Community of Central African States", acronym="ECCAS", kind="subregional"
    ),
    schemas.OrganisationCreate(
        slug="eu", name="European Union", acronym="EU", kind="regional", identifiers=["XI-WIKIDATA-Q458"]
    ),
    schemas.OrganisationCreate(
        slug="igad", name="Intergovernmental Authority on Development", acronym="IGAD", kind="subregional"
    ),
    schemas.OrganisationCreate(
        slug="oas",
        name="Organization of American States",
        acronym="OAS",
        kind="regional",
        identifiers=["XI-WIKIDATA-Q123759"],
    ),
    schemas.OrganisationCreate(
        slug="oic", name="Organisation of Islamic Cooperation", acronym="OIC", kind="interregional"
    ),
    schemas.OrganisationCreate(
        slug="osce",
        name="Organization for Security and Co-operation in Europe",
        acronym="OSCE",
        kind="regional",
        identifiers=["XI-WIKIDATA-Q81299"],
    ),
    schemas.OrganisationCreate(
        slug="un", name="United Nations", acronym="UN", kind="global", identifiers=["XI-WIKIDATA-Q1065"]
    ),
]


DEMO_CLIENT = "demo integration"
SHOWN = "un"  # whose credentials the demo prints


async def _ensure_clients(session: AsyncSession, settings: Settings) -> auth_schemas.ClientCreated:
    """One client with every scope per organisation; the shown one gets a fresh secret each run
    (secrets are stored only as hashes, so this is the only way to print a working one)."""
    shown = None
    for slug in sorted(o.slug for o in ORGANISATIONS):
        org = await service.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        client_id = await session.scalar(
            select(OAuthClient.client_id).where(
                OAuthClient.organisation_id == org.id, OAuthClient.name == DEMO_CLIENT
            )
        )
        if client_id is None:
            created = await auth.create_client(
                session,
                org,
                auth_schemas.ClientCreate(name=DEMO_CLIENT, scopes=list(SCOPES)),
                secret_key=settings.secret_key,  # type: ignore[arg-type]
                created_by="operator",
            )
            client_id = created.client_id
            await record(session, _operator_event(org.id, "client.create", "client", client_id))
        if slug == SHOWN:
            shown = await auth.rotate_secret(session, org, client_id, secret_key=settings.secret_key)  # type: ignore[arg-type]
            await record(session, _operator_event(org.id, "client.rotate_secret", "client", client_id))
    assert shown is not None
    return shown


def _operator_event(org_id: object, action: str, resource_type: str, resource_id: str) -> AuditEvent:
    return AuditEvent(
        organisation_id=org_id,  # type: ignore[arg-type]
        actor="operator",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome="success",
        source="demo",
    )


async def load(settings: Settings) -> str:
    """Create what is missing; return what to try next."""
    assert settings.database_url
    async with cli_session(settings.database_url) as session:
        existing = set(await session.scalars(select(Organisation.slug)))
        created = 0
        for org in ORGANISATIONS:
            if org.slug not in existing:
                await service.create_organisation(session, org, origin=settings.issuer)
                created += 1
    async with cli_session(settings.database_url) as session:
        client = await _ensure_clients(session, settings)
    base = settings.issuer
    token_call = (
        f"TOKEN=$(curl -s -u '{client.client_id}:{client.client_secret}' -d grant_type=client_credentials "
        f"{base}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    return "\n".join(
        [
            f"msnet demo: {len(ORGANISATIONS)} organisations ({created} new), one OAuth client each",
            "",
            f"Credentials of the {SHOWN.upper()} demo client (every scope; a new secret on each run):",
            f"  client_id:     {client.client_id}",
            f"  client_secret: {client.client_secret}",
            "",
            "Try:",
            f"  curl -s {base}/v1/organisations | python3 -m json.tool",
            f"  {token_call}",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/organisations/{SHOWN}/clients | python3 -m json.tool',
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/audit | python3 -m json.tool',
            f"  open {base}/schema for the API documentation",
        ]
    )
