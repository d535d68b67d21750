"""The demo network: the ten organisations of the 2018 UN–EU technical expert workshop (Nairobi),
loaded idempotently; each capability adds its part."""

from __future__ import annotations

from sqlalchemy import select

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
    base = settings.issuer
    return "\n".join(
        [
            f"msnet demo: {len(ORGANISATIONS)} organisations ({created} new)",
            "",
            "Try:",
            f"  curl -s {base}/v1/organisations | python3 -m json.tool",
            f"  curl -s {base}/v1/organisations/au",
            f"  open {base}/schema for the API documentation",
            f"  curl -s {base}/health/ready",
        ]
    )
