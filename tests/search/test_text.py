"""Every text search reads words alike: English and French stems, accents dropped (migration 0019).

Each search gets two records of another organisation, one in English and one in French, and is
asked for words in a form neither record uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from alembic import command
from litestar.testing import AsyncTestClient

from msnet.auth.principal import SCOPES
from msnet.db import migrate
from msnet.db.embedded import DatabaseUrls
from tests.helpers import Caller, MakeCaller
from tests.processes.test_registry import process_body
from tests.roster.conftest import expert_body
from tests.training.conftest import publication_body, training_body

ENGLISH = "Ceasefire monitoring and mediation in elections"
FRENCH = "Négociations et sécurité des femmes"

#: A word in a form neither record uses, and which of them (by language) it must find.
WORDS = [
    ("ceasefires", {"en"}),  # a plural finds the singular
    ("election", {"en"}),  # and the singular the plural
    ("femme", {"fr"}),  # in French too
    ("médiation", {"en"}),  # an accented word finds the unaccented one
    ("negociation", {"fr"}),  # and the unaccented the accented
    ("Négociation", {"fr"}),
    ("SECURITE", {"fr"}),
    ("mediator", {"en"}),  # an English stem: mediator, mediation
    ("monitored", {"en"}),
    ("négociateurs", {"fr"}),  # a French stem: négociateur, négociation
    ("dialogue", set()),
    ("mediation -elections", set()),
    ('"ceasefire monitoring"', {"en"}),
]

Make = Callable[[AsyncTestClient, Caller, str], Awaitable[str]]


async def _created(client: AsyncTestClient, caller: Caller, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body, headers=caller.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _office(client: AsyncTestClient, caller: Caller, text: str) -> str:
    return await _created(client, caller, "/v1/offices", {"name": text})


async def _capacity(client: AsyncTestClient, caller: Caller, text: str) -> str:
    office = await _office(client, caller, "Unit")
    body = {"service_type": "process_design", "notes": text}
    return await _created(client, caller, f"/v1/offices/{office}/capacities", body)


async def _expert(client: AsyncTestClient, caller: Caller, text: str) -> str:
    return await _created(client, caller, "/v1/experts", expert_body(name="Kofi Mensah", bio=text))


async def _process(client: AsyncTestClient, caller: Caller, text: str) -> str:
    return await _created(client, caller, "/v1/processes", process_body(name=text))


async def _training(client: AsyncTestClient, caller: Caller, text: str) -> str:
    body = training_body(title=text, description="Five days.", city="Addis Ababa")
    return await _created(client, caller, "/v1/trainings", body)


async def _publication(client: AsyncTestClient, caller: Caller, text: str) -> str:
    return await _created(client, caller, "/v1/publications", publication_body(title=text, summary="Notes."))


SEARCHES: dict[str, Make] = {
    "/v1/offices": _office,
    "/v1/capacities": _capacity,
    "/v1/experts": _expert,
    "/v1/processes": _process,
    "/v1/trainings": _training,
    "/v1/publications": _publication,
}


@pytest.mark.parametrize("path", SEARCHES)
async def test_plurals_accents_and_stems_of_english_and_french(
    client: AsyncTestClient, make_caller: MakeCaller, path: str
) -> None:
    au = await make_caller("au", SCOPES)
    eu = await make_caller("eu", SCOPES)
    make = SEARCHES[path]
    ids = {"en": await make(client, au, ENGLISH), "fr": await make(client, au, FRENCH)}
    for q, languages in WORDS:
        response = await client.get(path, params={"q": q}, headers=eu.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert {item["id"] for item in page["items"]} == {ids[lang] for lang in languages}, q
        assert page["total"] == len(languages), q


async def _catalog(url: str) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """The generation expression of each generated ``search`` column (``office_search`` keeps a copy
    of the offices'), the definition of each index on one, and the text search functions and
    configurations of msnet."""
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, generation_expression FROM information_schema.columns"
            " WHERE column_name = 'search' AND is_generated = 'ALWAYS'"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%(search%'"
            " AND tablename = ANY($1::text[])",
            [r["table_name"] for r in columns],
        )
        names = await conn.fetch(
            "SELECT proname AS name FROM pg_proc WHERE proname IN ('msnet_document', 'msnet_query', 'msnet_unaccent')"
            " UNION ALL SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE 'msnet%'"
        )
    finally:
        await conn.close()
    return (
        {r["table_name"]: r["generation_expression"] for r in columns},
        {r["indexname"]: r["indexdef"] for r in indexes},
        {r["name"] for r in names},
    )


def test_the_migration_downgrades_and_upgrades_again(db_urls: DatabaseUrls) -> None:
    columns, indexes, names = asyncio.run(_catalog(db_urls.admin))
    assert set(columns) == {"offices", "capacities", "experts", "processes", "trainings", "publications"}
    assert all(e.startswith("msnet_document(") for e in columns.values()), columns
    assert names == {"msnet_document", "msnet_query", "msnet_english", "msnet_french"}
    config = migrate.alembic_config(db_urls.admin, migrate.role_of(db_urls.app))
    command.downgrade(config, "0018")  # to before migration 0019, whatever came after it
    before, before_indexes, before_names = asyncio.run(_catalog(db_urls.admin))
    assert not any("msnet_document" in e for e in before.values()), before
    assert before_indexes.keys() == indexes.keys()
    assert before_names == {"msnet_unaccent"}
    command.upgrade(config, "head")
    assert asyncio.run(_catalog(db_urls.admin)) == (columns, indexes, names)
