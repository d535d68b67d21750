"""The roster's pages (/roster): search with facets, keyset pages and sorts in a bookmarkable URL, htmx
fragments, an expert's page and the audited contact reveal, the roster manager's forms, the CSV import
with its preview, the export of a search; a person of one organisation never sees what the API hides
from its clients. Over real HTTP against a live msnet signed in through a real OpenID Connect
provider (``web_node``, shared by the module), and one walk through a real Chromium with axe-core."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from functools import partial
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import expect

from msnet.roster import schemas, service
from tests.web import pages
from tests.web.conftest import SignedInPage, Someone, WebNode
from tests.web.pages import axe_clean, csrf, facet_counts, field_error, htmx, link, made_through, signed_in

#: One worker runs the module: its tests share the live node (``web_node``) and the rosters on it.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_roster.py"),
]

#: Rows read as the schema owner, row-level security lifted on these tables for the read only.
owner_rows = partial(pages.owner_rows, lifted=("experts", "expert_contacts", "audit_log"))

CONSENT = {"given_on": "2026-10-01", "purpose": "network roster", "recorded_by": "MSU"}


def expert(name: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "expertise": [{"kind": "theme", "term": "ceasefire_security"}],
        "languages": [{"code": "fr"}],
        "experience": ["ML"],
        "availability": [{"start": "2027-01-01", "end": "2027-12-31"}],
        "consent": CONSENT,
    }
    body.update(fields)
    return body


async def add_experts(node: WebNode, slug: str, bodies: list[dict[str, Any]]) -> list[str]:
    """The experts added to ``slug``'s roster through the roster's service; their ids."""
    return await made_through(node, slug, service.create_expert, schemas.ExpertCreate, schemas.Expert, bodies)


async def roster_size(node: WebNode, slug: str) -> int:
    rows = await owner_rows(
        node,
        "SELECT count(*) AS n FROM experts e JOIN organisations o ON o.id = e.organisation_id WHERE o.slug = $1",
        slug,
    )
    return rows[0]["n"]


def names_on(html: str) -> list[str]:
    """The experts' names in the results' table, in order."""
    return [
        unescape(n) for n in re.findall(r'<th scope="row"><a href="/roster/[0-9a-f-]+">([^<]*)</a>', html)
    ]


@dataclass
class Roster:
    """Two organisations' rosters and people: A's staff, A's roster manager, B's experts; and C's
    roster manager, whose additions and imports leave A's and B's rosters as the searches expect."""

    a: str
    b: str
    c: str
    staff: Someone
    manager: Someone
    writer: Someone
    a_ids: list[str]
    b_network: str
    b_private: str
    b_restricted: str


THEMES = ["ceasefire_security", "ddr", "constitution_making"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def roster(web_node: WebNode) -> Roster:
    a = await web_node.organisation()
    b = await web_node.organisation()
    other = await web_node.organisation()
    bodies = [
        expert(
            f"Expert {i:02d} {'Zoé' if i % 2 else 'Ana'}",
            expertise=[{"kind": "theme", "term": THEMES[i % 3]}],
            languages=[{"code": "fr"}] + ([{"code": "en"}] if i % 4 == 0 else []),
            bio="Negotiated in the Sahel." if i < 5 else "Constitutional adviser.",
            contact={"email": f"expert{i}@a.example.org"},
        )
        for i in range(25)
    ]
    a_ids = await add_experts(web_node, a, bodies)
    b_network, b_private, b_restricted = await add_experts(
        web_node,
        b,
        [
            expert("Béatrice Network", contact={"email": "beatrice@b.example.org", "phone": "+1 555 0100"}),
            expert("Bruno Private", sharing="private", contact={"email": "bruno@b.example.org"}),
            expert("Bianca Restricted", sharing="restricted", share_with=[other]),
        ],
    )
    c = await web_node.organisation()
    staff = await web_node.person(a, ["staff"], name="Sam Staff")
    manager = await web_node.person(a, ["roster_manager"], name="Rosa Manager")
    writer = await web_node.person(c, ["roster_manager"], name="Will Writer")
    return Roster(a, b, c, staff, manager, writer, a_ids, b_network, b_private, b_restricted)


async def test_search_filters_facets_pages_and_sorts_in_a_url_that_can_be_bookmarked(
    web_node: WebNode, roster: Roster
) -> None:
    async with signed_in(web_node, roster.staff) as http:
        first = await http.get("/roster", params={"organisation": roster.a})
        assert first.status_code == 200
        assert "25 experts found" in first.text
        assert facet_counts(first.text, "theme") == {
            "ceasefire_security": 9,
            "ddr": 8,
            "constitution_making": 8,
        }
        assert facet_counts(first.text, "language") == {"fr": 25, "en": 7}

        theme_url = link(first.text, "f-theme-ddr")
        assert theme_url is not None
        assert parse_qs(urlsplit(theme_url).query) == {"organisation": [roster.a], "theme": ["ddr"]}
        narrowed = await http.get(theme_url)
        expected = {f"Expert {i:02d} {'Zoé' if i % 2 else 'Ana'}" for i in range(25) if i % 3 == 1}
        assert set(names_on(narrowed.text)) == expected
        assert "8 experts found" in narrowed.text
        assert 'aria-current="true"' in narrowed.text  # the chosen term is marked

        seen: list[str] = []
        url: str | None = f"/roster?organisation={roster.a}&sort=name"
        while url:
            answer = await http.get(url)
            seen += names_on(answer.text)
            url = link(answer.text, "next-page")
        assert seen == sorted(f"Expert {i:02d} {'Zoé' if i % 2 else 'Ana'}" for i in range(25))

        by_relevance: list[str] = []
        url = f"/roster?organisation={roster.a}&q=Sahel"
        while url:
            answer = await http.get(url)
            by_relevance += names_on(answer.text)
            url = link(answer.text, "next-page")
        assert sorted(by_relevance) == sorted(f"Expert {i:02d} {'Zoé' if i % 2 else 'Ana'}" for i in range(5))

        second_page = link((await http.get(f"/roster?organisation={roster.a}&sort=name")).text, "next-page")
        assert second_page is not None
    async with signed_in(web_node, roster.manager) as other_reader:  # the bookmark, opened elsewhere
        shared = await other_reader.get(second_page)
    assert names_on(shared.text) == seen[20:]


async def test_bad_filters_are_named_on_the_page(web_node: WebNode, roster: Roster) -> None:
    async with signed_in(web_node, roster.staff) as http:
        answer = await http.get("/roster", params={"available_from": "someday", "sort": "shoe size"})
        unknown = await http.get("/roster", params={"theme": "no_such_theme"})
    assert answer.status_code == 422
    assert field_error(answer.text, "available_from") == "is not a date (YYYY-MM-DD)"
    assert "Sort by: is not one of the choices" in answer.text
    assert "0 experts found" in answer.text
    assert unknown.status_code == 422
    assert "Theme: &#39;no_such_theme&#39; is not in the taxonomy" in unknown.text


async def test_htmx_gets_the_results_alone_and_history_gets_whole_pages(
    web_node: WebNode, roster: Roster
) -> None:
    async with signed_in(web_node, roster.staff) as http:
        url = f"/roster?organisation={roster.a}&theme=ddr"
        whole = await http.get(url)
        fragment = await http.get(url, headers=htmx("roster-search"))
        backwards = await http.get(
            f"{url}&available_from=2027-06-01&available_to=2027-01-01",
            headers=htmx("roster-search"),
        )
        restored = await http.get(
            url,
            headers=htmx("roster-search", restore=True),
        )
    assert "<html" in whole.text
    assert "<html" in restored.text
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="roster-search"')
    assert '<div id="announcer" hx-swap-oob="innerHTML">8 experts found</div>' in fragment.text
    assert names_on(fragment.text) == names_on(whole.text)
    assert backwards.status_code == 200  # htmx swaps no 4xx answer in: the mistake is shown all the same
    assert "Available to: is before available_from" in backwards.text
    for answer in (whole, fragment, restored):
        vary = {v.strip().lower() for v in answer.headers["vary"].split(",")}
        assert {"hx-request", "hx-history-restore-request"} <= vary


async def test_a_person_sees_only_what_the_api_shows_their_organisations_clients(
    web_node: WebNode, roster: Roster
) -> None:
    async with signed_in(web_node, roster.manager) as http:
        found = await http.get("/roster", params={"organisation": roster.b})
        assert names_on(found.text) == ["Béatrice Network"]
        assert facet_counts(found.text, "organisation") == {roster.b: 1}
        everyone = await http.get("/roster", params={"q": "Bruno"})
        assert names_on(everyone.text) == []
        for hidden in (roster.b_private, roster.b_restricted):
            assert (await http.get(f"/roster/{hidden}")).status_code == 404
            page = await http.get(f"/roster/{roster.a_ids[0]}")
            reveal = await http.post(f"/roster/{hidden}/contact", data={"csrf_token": csrf(page.text)})
            assert reveal.status_code == 404
            assert "b.example.org" not in reveal.text
        exported = await http.get("/roster/export", params={"organisation": roster.b})
        assert [r[0] for r in list(csv.reader(io.StringIO(exported.text)))[1:]] == ["Béatrice Network"]
        shown = await http.get(f"/roster/{roster.b_network}")
        assert "beatrice@b.example.org" not in shown.text  # not until asked for
        edit = await http.get(f"/roster/{roster.b_network}/edit")
        assert edit.status_code == 403
        changed = await http.post(
            f"/roster/{roster.b_network}/edit",
            data={"csrf_token": csrf(shown.text), "name": "Taken Over", "version": "1"},
        )
        assert changed.status_code == 403
    assert (
        await owner_rows(web_node, "SELECT name FROM experts WHERE id = $1", uuid.UUID(roster.b_network))
    )[0]["name"] == "Béatrice Network"
    async with signed_in(web_node, roster.staff) as http:  # staff: no contact details at all
        shown = await http.get(f"/roster/{roster.b_network}")
        assert 'id="reveal-contact"' not in shown.text
        refused = await http.post(
            f"/roster/{roster.b_network}/contact", data={"csrf_token": csrf(shown.text)}
        )
        assert refused.status_code == 403
        assert "beatrice@b.example.org" not in refused.text


async def test_revealing_a_contact_is_a_deliberate_post_audited_with_the_person_as_actor(
    web_node: WebNode, roster: Roster
) -> None:
    query = "SELECT actor, action FROM audit_log WHERE resource_id = $1 AND action LIKE 'expert.contact.%' ORDER BY seq"
    before = await owner_rows(web_node, query, roster.b_network)
    async with signed_in(web_node, roster.manager) as http:
        shown = await http.get(f"/roster/{roster.b_network}")
        assert 'id="reveal-contact"' in shown.text
        revealed = await http.post(
            f"/roster/{roster.b_network}/contact", data={"csrf_token": csrf(shown.text)}
        )
    assert revealed.status_code == 200
    assert "beatrice@b.example.org" in revealed.text
    assert "+1 555 0100" in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    entries = (await owner_rows(web_node, query, roster.b_network))[len(before) :]
    actor = f"person:{web_node.issuers['a']}#{roster.manager.subject}"
    assert [(e["actor"], e["action"]) for e in entries] == [
        (actor, "expert.contact.read"),
        (actor, "expert.contact.disclosed"),
    ]


BAD_FORM = {
    "name": "Nadia Haddad",
    "themes": "ceasefire_security; not_a_theme",
    "languages": "fr:native/native/superb",
    "availability": "2027-06-30..2027-01-01",
    "email": "not an e-mail",
    "consent_given_on": "2026-13-45",
    "consent_purpose": "roster",
    "consent_recorded_by": "MSU",
    "sharing": "restricted",
    "share_with": "",
}


async def test_a_form_with_mistakes_names_each_beside_its_field_and_writes_nothing(
    web_node: WebNode, roster: Roster
) -> None:
    before = await roster_size(web_node, roster.c)
    async with signed_in(web_node, roster.writer) as http:
        form = await http.get("/roster/new")
        answer = await http.post("/roster/new", data={"csrf_token": csrf(form.text), **BAD_FORM})
    assert answer.status_code == 422
    for name in ("themes", "languages", "availability", "email", "consent_given_on", "share_with"):
        assert field_error(answer.text, name), name
    assert "not_a_theme" in field_error(answer.text, "themes")
    assert 'value="ceasefire_security; not_a_theme"' in answer.text  # what was typed is kept
    assert await roster_size(web_node, roster.c) == before


async def test_a_manager_adds_and_edits_and_a_stale_edit_is_refused(
    web_node: WebNode, roster: Roster
) -> None:
    async with signed_in(web_node, roster.writer) as http:
        form = await http.get("/roster/new")
        token = csrf(form.text)
        made = await http.post(
            "/roster/new",
            data={
                "csrf_token": token,
                "name": "Omar Said",
                "external_id": "HR-77",
                "themes": "ddr:expert",
                "languages": "ar:native/native/native; fr",
                "experience": "SD; eastern_africa",
                "availability": "2027-02-01..2027-03-31:remote",
                "sharing": "private",
            },
        )
        assert made.status_code == 303, made.text
        page = await http.get(made.headers["location"])
        assert "Omar Said" in page.text
        assert "HR-77" in page.text
        expert_id = made.headers["location"].split("/")[2].split("?")[0]

        edit = await http.get(f"/roster/{expert_id}/edit")
        assert 'value="ddr:expert"' in edit.text
        version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)  # type: ignore[union-attr]
        fields = {
            name: unescape(value)
            for name, value in re.findall(
                r'<input id="(\w+)" name="\w+" type="\w+" value="([^"]*)"', edit.text
            )
        }
        fields.update(sharing="private", seniority="", bio="")
        first = await http.post(
            f"/roster/{expert_id}/edit",
            data={**fields, "csrf_token": token, "version": version, "name": "Omar Saïd"},
        )
        assert first.status_code == 303, first.text
        stale = await http.post(
            f"/roster/{expert_id}/edit",
            data={**fields, "csrf_token": token, "version": version, "name": "Omar Late"},
        )
    assert stale.status_code == 409
    assert "Someone else changed this expert while you were editing" in stale.text
    rows = await owner_rows(web_node, "SELECT name, version FROM experts WHERE id = $1", uuid.UUID(expert_id))
    assert (rows[0]["name"], rows[0]["version"]) == ("Omar Saïd", int(version) + 1)


async def test_a_post_without_its_csrf_token_is_refused(web_node: WebNode, roster: Roster) -> None:
    before = await roster_size(web_node, roster.a)
    async with signed_in(web_node, roster.manager) as http:
        refused = await http.post("/roster/new", data={"name": "Forged Entry"})
        forged = await http.post("/roster/new", data={"name": "Forged Entry", "csrf_token": "0" * 64})
        reveal = await http.post(f"/roster/{roster.b_network}/contact")
    assert (refused.status_code, forged.status_code, reveal.status_code) == (403, 403, 403)
    assert "beatrice@b.example.org" not in reveal.text
    assert await roster_size(web_node, roster.a) == before


IMPORT_HEADER = "external_id,name,themes,languages,sharing\n"


async def test_an_import_shows_every_mistake_first_and_writes_only_once_confirmed(
    web_node: WebNode, roster: Roster
) -> None:
    before = await roster_size(web_node, roster.c)
    bad = IMPORT_HEADER + "IMP-1,Lina Ok,ddr,fr,network\nIMP-2,Lars Bad,no_such_theme,xx,everyone\n"
    good = IMPORT_HEADER + "IMP-1,Lina Ok,ddr,fr,network\nIMP-2,Lars Good,ddr,en,network\n"
    async with signed_in(web_node, roster.writer) as http:
        form = await http.get("/roster/import")
        token = csrf(form.text)
        refused = await http.post(
            "/roster/import",
            data={"csrf_token": token},
            files={"file": ("roster.csv", bad.encode(), "text/csv")},
        )
        assert refused.status_code == 422
        rows = re.findall(r"<tr><td>(row \d+, \w+)</td><td>", refused.text)
        assert set(rows) == {"row 3, themes", "row 3, languages", "row 3, sharing"}
        assert await roster_size(web_node, roster.c) == before
        await http.get("/language/fr")  # the services' messages in the reader's language
        in_french = await http.post(
            "/roster/import",
            data={"csrf_token": token},
            files={"file": ("roster.csv", bad.encode(), "text/csv")},
        )
        assert (
            "élément 1 (« no_such_theme ») : « no_such_theme » n’est pas dans la taxonomie (voir /v1/taxonomy)"
            in unescape(in_french.text)
        )
        await http.get("/language/en")

        preview = await http.post(
            "/roster/import",
            data={"csrf_token": token},
            files={"file": ("roster.csv", good.encode(), "text/csv")},
        )
        assert preview.status_code == 200
        assert "2 experts to add" in preview.text
        assert await roster_size(web_node, roster.c) == before
        hidden = unescape(re.search(r'<textarea name="csv" hidden>([^<]*)</textarea>', preview.text).group(1))  # type: ignore[union-attr]
        done = await http.post("/roster/import/confirm", data={"csrf_token": token, "csv": hidden})
    assert done.status_code == 200
    assert "2 experts added" in done.text
    assert await roster_size(web_node, roster.c) == before + 2


async def test_the_export_holds_the_records_and_columns_of_the_search(
    web_node: WebNode, roster: Roster
) -> None:
    async with signed_in(web_node, roster.staff) as http:
        url = f"/roster?organisation={roster.a}&theme=ceasefire_security&sort=name"
        shown: list[str] = []
        page = await http.get(url)
        headings = re.findall(r'<th scope="col">([^<]*)</th>', page.text)
        export_url = link(page.text, "export")
        assert "1,000 at most" in page.text
        next_url: str | None = url
        while next_url:
            answer = await http.get(next_url)
            shown += names_on(answer.text)
            next_url = link(answer.text, "next-page")
        exported = await http.get(export_url)  # type: ignore[arg-type]
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == [unescape(h) for h in headings]
    assert [row[0] for row in table[1:]] == shown
    assert all(row[3] == "Ceasefire and security arrangements" for row in table[1:])
    assert all(row[5] == "Western Africa" for row in table[1:])  # Mali's region, not the wider ones


async def test_in_a_browser_a_manager_searches_filters_pages_reveals_edits_and_imports(
    web_node: WebNode, roster: Roster, signed_in_page: SignedInPage, tmp_path: Any
) -> None:
    page = await signed_in_page(web_node, roster.manager)
    await page.get_by_role("link", name="Roster", exact=True).click()
    await page.get_by_label("Words").fill("ceasefire")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("#results-heading")).to_contain_text("experts found")
    await axe_clean(page, "the roster's search")

    await page.goto(f"{web_node.base}/roster?organisation={roster.a}")
    whole = await page.request.get(f"{web_node.base}/roster?organisation={roster.a}&theme=ddr")
    found = f"{len(names_on(await whole.text()))} experts found"  # other tests add ddr experts too
    await page.locator("#f-theme-ddr").click()  # htmx swaps the results in place
    await expect(page.locator("#results-heading")).to_have_text(found)
    await expect(page.locator("#announcer")).to_have_text(found)
    await expect(page).to_have_url(re.compile(r"theme=ddr"))
    await expect(page.locator("#f-theme-ddr")).to_be_focused()
    await expect(page.locator("#f-theme-ddr")).to_be_in_viewport()  # no jump to the footer

    await page.goto(f"{web_node.base}/roster?organisation={roster.a}&sort=name")
    first_names = await page.locator("tbody th").all_inner_texts()
    await page.locator("#next-page").click()
    await expect(page).to_have_url(re.compile(r"cursor="))
    await expect(page.locator("tbody th").first).not_to_have_text(first_names[0])
    await page.go_back()
    await expect(page.locator("tbody th").first).to_have_text(first_names[0])

    await page.goto(f"{web_node.base}/roster?organisation={roster.b}")
    await page.get_by_role("link", name="Béatrice Network").click()
    await axe_clean(page, "an expert's page")
    await page.get_by_role("button", name="Show contact details").click()
    await expect(page.get_by_text("beatrice@b.example.org")).to_be_visible()

    await page.goto(f"{web_node.base}/roster/{roster.a_ids[10]}")
    await page.get_by_role("link", name="Edit this expert").click()
    await axe_clean(page, "the expert form")
    await page.get_by_label("Biography").fill("Edited in a browser.")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Edited in a browser.")).to_be_visible()

    await page.goto(f"{web_node.base}/roster/import")
    bad = tmp_path / "bad.csv"
    bad.write_text(IMPORT_HEADER + "BR-1,Browser Row,no_such_theme,fr,network\n")
    await page.get_by_label("CSV file").set_input_files(str(bad))
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_text("row 2, themes")).to_be_visible()
    await axe_clean(page, "the import's mistakes")

    french = await signed_in_page(web_node, roster.manager, language="fr")
    for path in (
        f"/roster?organisation={roster.a}",
        f"/roster/{roster.a_ids[0]}",
        f"/roster/{roster.a_ids[0]}/edit",
        "/roster/import",
    ):
        await french.goto(f"{web_node.base}{path}")
        await expect(french.locator("html")).to_have_attribute("lang", "fr")
        await axe_clean(french, f"{path} in French")
