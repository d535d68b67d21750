"""The directory's pages (/directory): organisations, offices and capacities searched with the API's
filters and facets in a bookmarkable URL, keyset pages, htmx fragments, an office's page with its
capacities' freshness, and the one-click confirmation by the office's own managers (audited, the
person as the actor); a person of one organisation never sees what the API hides from its clients.
Over real HTTP against a live msnet signed in through a real OpenID Connect provider (``web_node``,
shared by the module), and one walk through a real Chromium with axe-core in both languages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from html import unescape
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import update

from msnet.directory import schemas, service
from msnet.directory.models import Capacity
from tests.web import pages
from tests.web.conftest import SignedInPage, Someone, WebNode
from tests.web.pages import as_operator, axe_clean, csrf, facet_counts, htmx, link, signed_in

#: One worker runs the module: its tests share the live node (``web_node``) and the directory on it.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_directory.py"),
]

#: Rows read as the schema owner, row-level security lifted on these tables for the read only.
owner_rows = partial(pages.owner_rows, lifted=("capacities", "audit_log"))


async def add_offices(
    node: WebNode, slug: str, offices: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[tuple[str, list[str]]]:
    """Offices of ``slug`` and their capacities, through the directory's service; their ids."""
    made_ids = []
    async with as_operator(node, slug) as (session, operator):
        for office, capacities in offices:
            made = await service.create_office(
                session, operator, msgspec.convert(office, schemas.OfficeCreate), origin=node.settings.issuer
            )
            assert isinstance(made, schemas.Office)
            ids = []
            for body in capacities:
                capacity = await service.create_capacity(
                    session,
                    operator,
                    made.id,
                    msgspec.convert(body, schemas.CapacityCreate),
                    origin=node.settings.issuer,
                )
                assert isinstance(capacity, schemas.Capacity)
                ids.append(str(capacity.id))
            made_ids.append((str(made.id), ids))
    return made_ids


async def make_stale(node: WebNode, slug: str, capacity_id: str) -> None:
    """Last confirmed 200 days ago."""
    async with as_operator(node, slug) as (session, _):
        await session.execute(
            update(Capacity)
            .where(Capacity.id == uuid.UUID(capacity_id))
            .values(last_confirmed_at=datetime.now(UTC) - timedelta(days=200))
        )


async def confirmed_at(node: WebNode, capacity_id: str) -> datetime:
    rows = await owner_rows(
        node, "SELECT last_confirmed_at FROM capacities WHERE id = $1", uuid.UUID(capacity_id)
    )
    return rows[0]["last_confirmed_at"]


def capacity(service_type: str, **fields: Any) -> dict[str, Any]:
    return {"service_type": service_type, "languages": ["fr"], "countries": ["ML"], **fields}


@dataclass
class Directory:
    a: str
    b: str
    other: str
    staff: Someone
    manager: Someone
    admin: Someone
    b_manager: Someone
    #: A's offices (0..24), and the one capacity of each
    a_offices: list[str]
    a_capacities: list[str]
    b_network: str
    b_network_capacity: str
    b_private_capacity: str
    b_private: str
    b_restricted: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def directory(web_node: WebNode) -> Directory:
    a = await web_node.organisation()
    b = await web_node.organisation()
    other = await web_node.organisation()
    made = await add_offices(
        web_node,
        a,
        [
            (
                {
                    "name": f"A Office {i:02d}",
                    "mandate": "Sahel dialogue support" if i < 10 else "Constitution drafting advice",
                },
                [
                    capacity(
                        "process_design" if i % 2 == 0 else "coaching",
                        languages=["fr", "en"] if i % 5 == 0 else ["fr"],
                        countries=["ML"] if i < 15 else ["KE"],
                        themes=["ddr"] if i < 3 else [],
                    )
                ],
            )
            for i in range(25)
        ],
    )
    a_offices = [office for office, _ in made]
    a_capacities = [caps[0] for _, caps in made]
    await make_stale(web_node, a, a_capacities[0])
    await make_stale(web_node, a, a_capacities[1])
    (
        (b_network, (b_network_capacity, b_private_capacity)),
        (b_private, _),
        (b_restricted, _),
    ) = await add_offices(
        web_node,
        b,
        [
            (
                {"name": "B Shared Office", "mandate": "Sahel mediation"},
                [capacity("mediator_briefing"), capacity("debriefing", sharing="private")],
            ),
            (
                {"name": "B Hidden Office", "mandate": "Sahel", "sharing": "private"},
                [capacity("coaching", sharing="private")],
            ),
            (
                {
                    "name": "B Restricted Office",
                    "mandate": "Sahel",
                    "sharing": "restricted",
                    "share_with": [other],
                },
                [],
            ),
        ],
    )
    return Directory(
        a,
        b,
        other,
        await web_node.person(a, ["staff"], name="Sam Staff"),
        await web_node.person(a, ["roster_manager"], name="Rosa Manager"),
        await web_node.person(a, ["org_admin"], name="Olga Admin"),
        await web_node.person(b, ["roster_manager"], name="Bob Manager"),
        a_offices,
        a_capacities,
        b_network,
        b_network_capacity,
        b_private_capacity,
        b_private,
        b_restricted,
    )


def office_names(html: str) -> list[str]:
    return [
        unescape(n)
        for n in re.findall(r'<th scope="row"><a href="/directory/offices/[0-9a-f-]+">([^<]*)</a>', html)
    ]


async def test_offices_searched_by_words_language_and_region_with_facets_and_pages(
    web_node: WebNode, directory: Directory
) -> None:
    async with signed_in(web_node, directory.staff) as http:
        page = await http.get("/directory", params={"organisation": directory.a})
        assert page.status_code == 200
        first = office_names(page.text)
        assert len(first) == 20
        assert "25 offices found" in page.text
        assert facet_counts(page.text, "language") == {"fr": 25, "en": 5}
        assert facet_counts(page.text, "service_type") == {"process_design": 13, "coaching": 12}
        following = await http.get(link(page.text, "next-page"))  # type: ignore[arg-type]
        second = office_names(following.text)
        assert len(second) == 5
        assert not set(first) & set(second)
        assert set(first) | set(second) == {f"A Office {i:02d}" for i in range(25)}
        assert link(following.text, "next-page") is None

        narrowed = await http.get(
            "/directory",
            params={"organisation": directory.a, "q": "Sahel", "language": "fr", "region": "western_africa"},
        )
        assert sorted(office_names(narrowed.text)) == [f"A Office {i:02d}" for i in range(10)]
        assert facet_counts(narrowed.text, "language") == {"fr": 10, "en": 2}
        assert facet_counts(narrowed.text, "theme") == {"ddr": 3}
        by_theme = await http.get(link(narrowed.text, "f-theme-ddr"))  # type: ignore[arg-type]
        assert sorted(office_names(by_theme.text)) == ["A Office 00", "A Office 01", "A Office 02"]
        assert 'aria-current="true" class="selected"' in by_theme.text
        cleared = await http.get(link(by_theme.text, "clear-theme"))  # type: ignore[arg-type]
        assert len(office_names(cleared.text)) == 10

        east = await http.get("/directory", params={"organisation": directory.a, "region": "eastern_africa"})
        assert sorted(office_names(east.text)) == [f"A Office {i:02d}" for i in range(15, 25)]


async def test_capacities_and_organisations_views_show_freshness(
    web_node: WebNode, directory: Directory
) -> None:
    async with signed_in(web_node, directory.staff) as http:
        capacities = await http.get(
            "/directory",
            params={"organisation": directory.a, "view": "capacities", "region": "western_africa"},
        )
        assert "15 capacities found" in capacities.text
        rows = re.findall(r'<tr id="capacity-([0-9a-f-]+)">(.*?)</tr>', capacities.text, re.S)
        stale = {cap for cap, cells in rows if "Stale" in cells}
        assert stale == {directory.a_capacities[0], directory.a_capacities[1]}
        fresh_only = await http.get(
            "/directory",
            params={
                "organisation": directory.a,
                "view": "capacities",
                "region": "western_africa",
                "fresh": "1",
            },
        )
        assert "13 capacities found" in fresh_only.text
        assert "Stale" not in fresh_only.text

        orgs = await http.get("/directory", params={"view": "organisations", "q": "Sahel"})
        listed = dict(re.findall(r'id="org-([^"]+)"[^>]*>[^<]*</a></th>\s*<td>(\d+)</td>', orgs.text))
        assert listed == {directory.a: "10", directory.b: "1"}


async def test_a_person_sees_only_what_the_api_shows_their_organisations_clients(
    web_node: WebNode, directory: Directory
) -> None:
    async with signed_in(web_node, directory.staff) as http:
        found = await http.get("/directory", params={"organisation": directory.b})
        assert office_names(found.text) == ["B Shared Office"]
        for hidden in (directory.b_private, directory.b_restricted):
            assert (await http.get(f"/directory/offices/{hidden}")).status_code == 404
        shown = await http.get(f"/directory/offices/{directory.b_network}")
        assert shown.status_code == 200
        assert directory.b_network_capacity in shown.text
        assert directory.b_private_capacity not in shown.text
        capacities = await http.get("/directory", params={"organisation": directory.b, "view": "capacities"})
        assert "1 capacity found" in capacities.text
        assert directory.b_private_capacity not in capacities.text
        assert "/confirm" not in shown.text  # not theirs to confirm


async def test_bad_filters_are_each_named_on_the_page(web_node: WebNode, directory: Directory) -> None:
    async with signed_in(web_node, directory.staff) as http:
        answer = await http.get(
            "/directory",
            params={"theme": "no_such_theme", "language": "zz9", "q": "x" * 201, "view": "everything"},
        )
        assert answer.status_code == 422
        summary = re.search(r'<div class="error-summary".*?</div>', answer.text, re.S).group(0)  # type: ignore[union-attr]
        for name in ("Words", "Show"):
            assert f"<li>{name}:" in summary
        after = await http.get("/directory", params={"theme": "no_such_theme", "language": "zz9"})
        assert after.status_code == 422
        summary = re.search(r'<div class="error-summary".*?</div>', after.text, re.S).group(0)  # type: ignore[union-attr]
        assert "<li>Theme:" in summary
        assert "<li>Language:" in summary


async def test_htmx_gets_the_results_alone_and_history_gets_whole_pages(
    web_node: WebNode, directory: Directory
) -> None:
    async with signed_in(web_node, directory.staff) as http:
        params = {"organisation": directory.a}
        fragment = await http.get("/directory", params=params, headers=htmx("directory-search"))
        assert "<html" not in fragment.text
        assert 'hx-swap-oob="innerHTML">25 offices found' in fragment.text
        assert "HX-Request" in fragment.headers["vary"]
        restored = await http.get(
            "/directory",
            params=params,
            headers=htmx("directory-search", restore=True),
        )
        assert "<html" in restored.text
        mistaken = await http.get(
            "/directory",
            params={"theme": "no_such_theme"},
            headers=htmx("directory-search"),
        )
        assert mistaken.status_code == 200  # htmx swaps no 4xx answer in
        assert "<li>Theme:" in mistaken.text


async def test_only_the_offices_own_managers_confirm_a_capacity_audited_with_the_person(
    web_node: WebNode, directory: Directory
) -> None:
    office, stale = directory.a_offices[0], directory.a_capacities[0]
    before = await confirmed_at(web_node, stale)
    action = f"/directory/capacities/{stale}/confirm"
    async with signed_in(web_node, directory.staff) as http:  # staff: not a manager
        shown = await http.get(f"/directory/offices/{office}")
        assert "Stale: not confirmed for 180 days" in shown.text
        assert f'action="{action}"' not in shown.text
        refused = await http.post(action, data={"csrf_token": csrf(shown.text)})
        assert refused.status_code == 403
    async with signed_in(web_node, directory.b_manager) as http:  # another organisation's manager
        shown = await http.get(f"/directory/offices/{office}")
        assert f'action="{action}"' not in shown.text
        refused = await http.post(action, data={"csrf_token": csrf(shown.text)})
        assert refused.status_code == 403
    async with signed_in(web_node, directory.manager) as http:
        shown = await http.get(f"/directory/offices/{office}")
        assert f'action="{action}"' in shown.text
        no_token = await http.post(action)
        assert no_token.status_code == 403
        wrong_token = await http.post(action, data={"csrf_token": "0" * 64})
        assert wrong_token.status_code == 403
        assert await confirmed_at(web_node, stale) == before
        done = await http.post(action, data={"csrf_token": csrf(shown.text)})
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"/directory/offices/{office}?confirmed=1")
        after = await http.get(done.headers["location"])
        assert "Confirmed: the capacity is current for another 180 days." in after.text
        assert "Stale: not confirmed" not in after.text
    assert await confirmed_at(web_node, stale) > before
    entries = await owner_rows(
        web_node,
        "SELECT actor, outcome FROM audit_log WHERE action = 'capacity.confirm' AND resource_id = $1",
        stale,
    )
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        (f"person:{web_node.issuers['a']}#{directory.manager.subject}", "success")
    ]
    other = directory.a_capacities[1]  # an organisation administrator may confirm too
    async with signed_in(web_node, directory.admin) as http:
        shown = await http.get(f"/directory/offices/{directory.a_offices[1]}")
        done = await http.post(
            f"/directory/capacities/{other}/confirm", data={"csrf_token": csrf(shown.text)}
        )
        assert done.status_code == 303
    assert await confirmed_at(web_node, other) > datetime.now(UTC) - timedelta(days=1)


async def test_browsing_the_directory_in_a_browser_by_keyboard_in_both_languages(
    web_node: WebNode, directory: Directory, signed_in_page: SignedInPage
) -> None:
    page = await signed_in_page(web_node, directory.manager)
    await page.goto(f"{web_node.base}/directory?organisation={directory.a}")
    await expect(page.get_by_role("heading", name="25 offices found")).to_be_visible()
    await axe_clean(page, "the directory's search")
    await page.locator("#f-language-en").click()
    await expect(page.get_by_role("heading", name="5 offices found")).to_be_visible()
    await expect(page.locator("#announcer")).to_have_text("5 offices found")
    await page.get_by_role("link", name="A Office 20").click()
    await expect(page.get_by_role("heading", name="A Office 20", level=1)).to_be_visible()
    await axe_clean(page, "an office's page")
    await page.goto(f"{web_node.base}/directory/offices/{directory.a_offices[2]}")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", name="Capacités")).to_be_visible()
    await axe_clean(page, "an office's page in French")
    await page.goto(f"{web_node.base}/directory?organisation={directory.a}&view=capacities")
    await expect(page.get_by_role("heading", name="25 capacités trouvées")).to_be_visible()
    await axe_clean(page, "the capacities in French")
