"""The organisation registry: API reads, CLI writes, keyset pagination."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from msnet import demo
from msnet.demo import specs
from msnet.settings import Settings
from tests.conftest import DemoTemplate
from tests.helpers import run_cli


@pytest.fixture
def demo_loaded(demo_template: DemoTemplate, settings: Settings) -> Settings:
    """Settings of a database the demo network is in (a clone of the run's, see ``demo_template``)."""
    return settings


async def test_lists_the_demo_organisations(client: AsyncTestClient, demo_loaded: Settings) -> None:
    response = await client.get("/v1/organisations")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == len(specs.organisations())
    assert [o["slug"] for o in body["items"]] == sorted(o.slug for o in specs.organisations())
    assert body["next_cursor"] is None


async def test_keyset_pagination_visits_each_once(client: AsyncTestClient, demo_loaded: Settings) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/v1/organisations", params=params)).json()
        assert len(body["items"]) <= 3
        seen += [o["slug"] for o in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(o.slug for o in specs.organisations())


async def test_filter_by_kind(client: AsyncTestClient, demo_loaded: Settings) -> None:
    body = (await client.get("/v1/organisations", params={"kind": "subregional"})).json()
    expected = sorted(o.slug for o in specs.organisations() if o.kind == "subregional")
    assert [o["slug"] for o in body["items"]] == expected
    assert body["total"] == len(expected)


async def test_one_organisation(client: AsyncTestClient, demo_loaded: Settings) -> None:
    response = await client.get("/v1/organisations/au")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "African Union"
    assert body["identifiers"] == ["XI-WIKIDATA-Q7159"]
    assert body["origin"] == demo_loaded.issuer
    assert body["version"] == 1


async def test_unknown_organisation_is_404(client: AsyncTestClient) -> None:
    response = await client.get("/v1/organisations/atlantis")
    assert response.status_code == 404
    assert response.json()["detail"] == "no organisation 'atlantis'"


def test_demo_is_idempotent(settings: Settings) -> None:
    first = asyncio.run(demo.load(settings))
    second = asyncio.run(demo.load(settings))
    assert "(10 new)" in first
    assert "(0 new)" in second


async def test_cli_creates_an_organisation(client: AsyncTestClient, settings: Settings) -> None:
    result = run_cli(
        settings,
        "org", "create", "asean", "--name", "Association of Southeast Asian Nations",
        "--acronym", "ASEAN", "--kind", "regional", "--identifier", "XI-WIKIDATA-Q7768",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = (await client.get("/v1/organisations/asean")).json()
    assert body["acronym"] == "ASEAN"
    assert body["identifiers"] == ["XI-WIKIDATA-Q7768"]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["BAD SLUG", "--name", "X Y"], "slug"),
        (["ok", "--name", "X Y", "--kind", "galactic"], "kind"),
        (["ok", "--name", "X Y", "--identifier", "not an id"], "identifiers"),
        (["ok", "--name", "X Y", "--home-node", "ftp://x"], "home_node"),
    ],
)
async def test_cli_rejects_bad_input_and_writes_nothing(
    client: AsyncTestClient, settings: Settings, args: list[str], complaint: str
) -> None:
    result = run_cli(settings, "org", "create", *args)
    assert result.returncode == 1
    assert complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (await client.get("/v1/organisations")).json()["total"] == 0


async def test_cli_refuses_a_duplicate(client: AsyncTestClient, settings: Settings) -> None:
    assert run_cli(settings, "org", "create", "asean", "--name", "ASEAN").returncode == 0
    result = run_cli(settings, "org", "create", "asean", "--name", "Other")
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert (await client.get("/v1/organisations/asean")).json()["name"] == "ASEAN"
