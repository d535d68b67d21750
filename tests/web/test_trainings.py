"""The trainings' pages (/trainings): the upcoming trainings as a list and a month's calendar with the
API's filters and facets in a bookmarkable URL, a training's page, the iCalendar and Atom links of a
search, the e-mail digest of a search, and the form that publishes a training (every mistake beside
its field, nothing written); a person of one organisation never sees what the API hides from its
clients. Over real HTTP against a live msnet signed in through a real OpenID Connect provider
(``web_node``, shared by the module), and one walk through a real Chromium with axe-core in both
languages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
import pytest_asyncio
from playwright.async_api import expect

from msnet.training import schemas, service
from tests.web import pages
from tests.web.conftest import SignedInPage, Someone, WebNode
from tests.web.pages import axe_clean, csrf, facet_counts, field_error, htmx, link, made_through, signed_in

#: One worker runs the module: its tests share the live node (``web_node``) and the trainings on it.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_trainings.py"),
]

#: Rows read as the schema owner, row-level security lifted on these tables for the read only.
owner_rows = partial(pages.owner_rows, lifted=("trainings", "digest_subscriptions"))


def training(title: str, day: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "kind": "course",
        "format": "online",
        "start": f"{day}T09:00:00+03:00",
        "end": f"{day}T17:00:00+03:00",
        "time_zone": "Africa/Addis_Ababa",
        "languages": ["fr"],
        "apply_url": "https://training.example.org/apply",
    }
    body.update(fields)
    return body


async def add_trainings(node: WebNode, slug: str, bodies: list[dict[str, Any]]) -> list[str]:
    """Trainings of ``slug`` through the training service; their ids."""
    return await made_through(
        node, slug, service.create_training, schemas.TrainingCreate, schemas.Training, bodies
    )


async def trainings_of(node: WebNode, slug: str) -> list[str]:
    rows = await owner_rows(
        node,
        "SELECT t.title FROM trainings t JOIN organisations o ON o.id = t.organisation_id WHERE o.slug = $1",
        slug,
    )
    return sorted(r["title"] for r in rows)


@dataclass
class Trainings:
    a: str
    b: str
    staff: Someone
    manager: Someone
    b_staff: Someone
    a_ids: list[str]
    b_network: str
    b_private: str
    b_restricted: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def trainings(web_node: WebNode) -> Trainings:
    a = await web_node.organisation()
    b = await web_node.organisation()
    other = await web_node.organisation()
    bodies = [
        training(
            f"A Course {i:02d}",
            f"2027-03-{i + 1:02d}" if i < 20 else f"2027-04-{i - 19:02d}",
            kind="course" if i % 2 == 0 else "workshop",
            languages=["fr", "en"] if i % 5 == 0 else ["fr"],
            themes=["ddr"] if i < 4 else [],
            **({} if i % 3 == 0 else {"format": "in_person", "country": "ML", "city": "Bamako"}),
        )
        for i in range(25)
    ]
    a_ids = await add_trainings(web_node, a, [*bodies, training("A Past Course", "2026-01-15")])
    b_network, b_private, b_restricted = await add_trainings(
        web_node,
        b,
        [
            training("B Network Retreat", "2027-03-10", kind="envoy_retreat"),
            training("B Private Workshop", "2027-03-11", sharing="private"),
            training("B Restricted Webinar", "2027-03-12", sharing="restricted", share_with=[other]),
        ],
    )
    return Trainings(
        a,
        b,
        await web_node.person(a, ["staff"], name="Sam Staff"),
        await web_node.person(a, ["roster_manager"], name="Rosa Manager"),
        await web_node.person(b, ["staff"], name="Bea Staff"),
        a_ids,
        b_network,
        b_private,
        b_restricted,
    )


def titles(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<a href="/trainings/[0-9a-f-]{36}">([^<]*)</a>', html)]


async def test_upcoming_trainings_filtered_with_facets_and_pages(
    web_node: WebNode, trainings: Trainings
) -> None:
    async with signed_in(web_node, trainings.staff) as http:
        page = await http.get("/trainings", params={"organisation": trainings.a})
        assert page.status_code == 200
        assert "25 trainings found" in page.text  # the past one is not upcoming
        first = titles(page.text)
        assert first == [f"A Course {i:02d}" for i in range(20)]  # soonest first
        assert facet_counts(page.text, "kind") == {"course": 13, "workshop": 12}
        assert facet_counts(page.text, "format") == {"online": 9, "in_person": 16}
        assert facet_counts(page.text, "language") == {"fr": 25, "en": 5}
        following = await http.get(link(page.text, "next-page"))  # type: ignore[arg-type]
        assert titles(following.text) == [f"A Course {i:02d}" for i in range(20, 25)]
        assert link(following.text, "next-page") is None

        narrowed = await http.get(link(page.text, "f-kind-workshop"))  # type: ignore[arg-type]
        assert "12 trainings found" in narrowed.text
        in_mali = await http.get(link(narrowed.text, "f-country-ML"))  # type: ignore[arg-type]
        assert titles(in_mali.text) == [f"A Course {i:02d}" for i in range(25) if i % 2 and i % 3]
        assert parse_qs(urlsplit(str(in_mali.url)).query) == {
            "organisation": [trainings.a],
            "kind": ["workshop"],
            "country": ["ML"],
        }
        themed = await http.get(
            "/trainings", params={"organisation": trainings.a, "theme": "ddr", "q": "course"}
        )
        assert sorted(titles(themed.text)) == ["A Course 00", "A Course 01", "A Course 02", "A Course 03"]
        past = await http.get("/trainings", params={"organisation": trainings.a, "start_from": "2026-01-01"})
        assert "26 trainings found" in past.text


async def test_a_months_calendar_and_the_feeds_of_a_search(web_node: WebNode, trainings: Trainings) -> None:
    async with signed_in(web_node, trainings.staff) as http:
        march = await http.get(
            "/trainings", params={"organisation": trainings.a, "view": "month", "month": "2027-03"}
        )
        assert "20 trainings found" in march.text
        cells = re.findall(
            r'<span class="day" aria-label="[^"]*">(\d+)</span>\s*(?:<ul>(.*?)</ul>)?', march.text, re.S
        )
        by_day = {int(day): titles(items) for day, items in cells}
        assert len(by_day) == 31
        assert by_day[5] == ["A Course 04"]
        assert by_day[25] == []
        april = await http.get(link(march.text, "next-month"))  # type: ignore[arg-type]
        assert "5 trainings found" in april.text
        back = await http.get(link(april.text, "previous-month"))  # type: ignore[arg-type]
        assert "20 trainings found" in back.text

        ical = link(march.text, "ical")
        atom = link(march.text, "atom")
        assert ical == f"/v1/trainings.ics?organisation={trainings.a}"
        assert atom == f"/v1/trainings.atom?organisation={trainings.a}"
        calendar = await http.get(ical)
        assert calendar.status_code == 200
        assert calendar.headers["content-type"].startswith("text/calendar")
        feed = await http.get(atom)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("application/atom+xml")

        bad = await http.get("/trainings", params={"view": "month", "month": "2027-13"})
        assert bad.status_code == 422
        assert "<li>Month:" in bad.text


async def test_a_person_sees_only_what_the_api_shows_their_organisations_clients(
    web_node: WebNode, trainings: Trainings
) -> None:
    async with signed_in(web_node, trainings.staff) as http:
        found = await http.get("/trainings", params={"organisation": trainings.b})
        assert titles(found.text) == ["B Network Retreat"]
        month = await http.get("/trainings", params={"view": "month", "month": "2027-03"})
        assert "B Network Retreat" in month.text
        assert "B Private Workshop" not in month.text
        assert "B Restricted Webinar" not in month.text
        for hidden in (trainings.b_private, trainings.b_restricted):
            assert (await http.get(f"/trainings/{hidden}")).status_code == 404
        shown = await http.get(f"/trainings/{trainings.b_network}")
        assert shown.status_code == 200
        assert "B Network Retreat" in shown.text
        assert "Envoy retreat" in shown.text


async def test_the_publishing_form_names_every_mistake_and_writes_nothing(
    web_node: WebNode, trainings: Trainings
) -> None:
    before = await trainings_of(web_node, trainings.a)
    async with signed_in(web_node, trainings.staff) as http:
        form = await http.get("/trainings/new")
        token = csrf(form.text)
        shape = await http.post(
            "/trainings/new",
            data={
                "csrf_token": token,
                "title": "x",
                "format": "online",
                "start": "next tuesday",
                "end": "2027-05-02T17:00",
                "time_zone": "Mars/Olympus",
                "seats": "0",
                "apply_email": "not an address",
            },
        )
        assert shape.status_code == 422
        for name in ("title", "kind", "start", "time_zone", "seats", "apply_email"):
            assert field_error(shape.text, name), name
        assert 'value="2027-05-02T17:00"' in shape.text  # what was typed is kept

        rules = await http.post(
            "/trainings/new",
            data={
                "csrf_token": token,
                "title": "Out of order",
                "kind": "course",
                "format": "in_person",
                "start": "2027-05-02T09:00",
                "end": "2027-05-01T17:00",
                "time_zone": "Africa/Bamako",
                "themes": ["ddr", "no_such_theme"],
                "languages": "fr zz",
            },
        )
        assert rules.status_code == 422
        for name in ("end", "country", "apply_url", "themes", "languages"):
            assert field_error(rules.text, name), name
        no_token = await http.post(
            "/trainings/new",
            data={
                "title": "No token",
                "kind": "course",
                "format": "online",
                "start": "2027-05-02T09:00",
                "end": "2027-05-02T17:00",
                "time_zone": "Africa/Bamako",
                "apply_url": "https://example.org",
            },
        )
        assert no_token.status_code == 403
        assert await trainings_of(web_node, trainings.a) == before

        made = await http.post(
            "/trainings/new",
            data={
                "csrf_token": token,
                "title": "Dialogue design week",
                "kind": "workshop",
                "format": "hybrid",
                "start": "2027-05-03T09:00",
                "end": "2027-05-07T17:00",
                "time_zone": "Africa/Bamako",
                "country": "ML",
                "city": "Bamako",
                "themes": ["ddr"],
                "audience": ["member_staff", "partners"],
                "languages": "fr en",
                "seats": "24",
                "apply_email": "training@a.example.org",
            },
        )
        assert made.status_code == 303
        shown = await http.get(made.headers["location"])
        assert "Published." in shown.text
        assert "Dialogue design week" in shown.text
        assert "Africa/Bamako" in shown.text
    assert await trainings_of(web_node, trainings.a) == sorted([*before, "Dialogue design week"])
    rows = await owner_rows(
        web_node,
        "SELECT starts_at, audience, languages FROM trainings WHERE title = 'Dialogue design week'",
    )
    assert rows[0]["starts_at"].isoformat() == "2027-05-03T09:00:00+00:00"  # Bamako is on UTC
    assert list(rows[0]["audience"]) == ["member_staff", "partners"]
    async with signed_in(web_node, trainings.manager) as http:  # a roster manager does not publish trainings
        assert (await http.get("/trainings/new")).status_code == 403


async def test_subscribing_to_the_digest_of_a_search(web_node: WebNode, trainings: Trainings) -> None:
    async with signed_in(web_node, trainings.staff) as http:
        search = await http.get("/trainings", params={"theme": "ddr", "region": "western_africa"})
        form = await http.get(link(search.text, "subscribe"))  # type: ignore[arg-type]
        assert form.status_code == 200
        assert f'value="{trainings.staff.email}"' in form.text
        assert "A digest does not keep these filters: Region" in form.text
        token = csrf(form.text)
        bad = await http.post(
            "/trainings/subscribe",
            data={"csrf_token": token, "email": "nobody", "period": "daily", "theme": "ddr"},
        )
        assert bad.status_code == 422
        assert field_error(bad.text, "email")
        assert field_error(bad.text, "period")
        address = f"digest-{uuid.uuid4().hex[:8]}@a.example.org"
        assert not await owner_rows(web_node, "SELECT 1 FROM digest_subscriptions WHERE email = $1", address)
        done = await http.post(
            "/trainings/subscribe",
            data={"csrf_token": token, "email": address, "period": "monthly", "theme": "ddr"},
        )
        assert done.status_code == 303
        assert "Subscribed" in (await http.get(done.headers["location"])).text
        again = await http.post(
            "/trainings/subscribe",
            data={"csrf_token": token, "email": address, "period": "monthly", "theme": "ddr"},
        )
        assert again.status_code == 422
        assert "already has a monthly digest" in field_error(again.text, "email")
        refused = await http.post("/trainings/subscribe", data={"email": address, "period": "weekly"})
        assert refused.status_code == 403
    rows = await owner_rows(
        web_node,
        "SELECT period, filters::text AS filters FROM digest_subscriptions WHERE email = $1",
        address,
    )
    assert [(r["period"], msgspec.json.decode(r["filters"])["theme"]) for r in rows] == [("monthly", "ddr")]


async def test_htmx_gets_the_results_alone_and_history_gets_whole_pages(
    web_node: WebNode, trainings: Trainings
) -> None:
    async with signed_in(web_node, trainings.staff) as http:
        params = {"organisation": trainings.a, "start_to": "2027-04-30"}
        fragment = await http.get("/trainings", params=params, headers=htmx("trainings-search"))
        assert "<html" not in fragment.text
        assert 'hx-swap-oob="innerHTML">25 trainings found' in fragment.text
        restored = await http.get(
            "/trainings",
            params=params,
            headers=htmx("trainings-search", restore=True),
        )
        assert "<html" in restored.text
        mistaken = await http.get(
            "/trainings",
            params={"start_from": "2027-05-01", "start_to": "2027-04-01"},
            headers=htmx("trainings-search"),
        )
        assert mistaken.status_code == 200  # htmx swaps no 4xx answer in
        assert "<li>Starting until:" in mistaken.text


async def test_trainings_in_a_browser_in_both_languages(
    web_node: WebNode, trainings: Trainings, signed_in_page: SignedInPage
) -> None:
    page = await signed_in_page(web_node, trainings.staff)
    await page.goto(f"{web_node.base}/trainings?organisation={trainings.a}&start_to=2027-04-30")
    await expect(page.get_by_role("heading", name="25 trainings found")).to_be_visible()
    await axe_clean(page, "the trainings' list")
    await page.locator("#f-kind-workshop").click()
    await expect(page.locator("#announcer")).to_have_text("12 trainings found")
    await page.locator("#view-month").click()
    await expect(page.get_by_role("link", name="Next month")).to_be_visible()
    await page.goto(f"{web_node.base}/trainings?organisation={trainings.a}&view=month&month=2027-03")
    await axe_clean(page, "a month's calendar")
    await page.get_by_role("link", name="A Course 04").click()
    await expect(page.get_by_role("heading", name="A Course 04", level=1)).to_be_visible()
    await axe_clean(page, "a training's page")
    await page.goto(f"{web_node.base}/trainings/new")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await axe_clean(page, "the publishing form's mistakes")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", name="Publier une formation", level=1)).to_be_visible()
    await axe_clean(page, "the publishing form in French")
    await page.goto(f"{web_node.base}/trainings?organisation={trainings.a}&view=month&month=2027-03")
    await expect(page.get_by_role("heading", name=re.compile("20 formations trouvées"))).to_be_visible()
    await axe_clean(page, "a month's calendar in French")
    await page.goto(f"{web_node.base}/trainings/subscribe?theme=ddr")
    await axe_clean(page, "the digest's form in French")
