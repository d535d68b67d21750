"""Saved searches (/searches): a person saves a roster or trainings search from its page, finds it on
/searches and on their home page with how many records are new since they last opened it, and is
e-mailed once a day what is new if they asked. Over real HTTP against a live msnet signed in through a
real OpenID Connect provider (``web_node``, shared by the module); the e-mail through a real SMTP
server. Another person's or organisation's searches are never listed or reachable, and records the
person's organisation may not see are never counted."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import msgspec
import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from msnet.auth.principal import Principal
from msnet.db.engine import make_engine, make_sessionmaker, set_organisation
from msnet.db.runtime import cli_session
from msnet.middleware import Metrics
from msnet.organisations import service as organisations
from msnet.outbox.worker import Worker
from msnet.roster import schemas as roster_schemas
from msnet.roster import service as roster_service
from msnet.training import schemas as training_schemas
from msnet.training import service as training_service
from msnet.web import saved
from tests.conftest import free_port
from tests.web.conftest import SignedInPage, Someone, WebNode, sign_in

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_saved.py"),
]


def word() -> str:
    """A word no other test's records hold: each test's searches find only its own records."""
    return "zq" + uuid.uuid4().hex[:10]


async def add_experts(node: WebNode, slug: str, names: list[str], sharing: str = "network") -> None:
    async with cli_session(node.settings.database_url) as session:  # type: ignore[arg-type]
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        operator = Principal.operator(org.id, slug, "tests")
        for name in names:
            body = {
                "name": name,
                "expertise": [{"kind": "theme", "term": "ceasefire_security"}],
                "languages": [{"code": "fr"}],
                "sharing": sharing,
                "consent": {"given_on": "2026-10-01", "purpose": "network roster", "recorded_by": "MSU"},
            }
            made = await roster_service.create_expert(
                session,
                operator,
                msgspec.convert(body, roster_schemas.ExpertCreate),
                origin=node.settings.issuer,
            )
            assert isinstance(made, roster_schemas.Expert)


async def add_trainings(node: WebNode, slug: str, titles: list[str], sharing: str = "network") -> None:
    day = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    async with cli_session(node.settings.database_url) as session:  # type: ignore[arg-type]
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        operator = Principal.operator(org.id, slug, "tests")
        for title in titles:
            body = {
                "title": title,
                "kind": "course",
                "format": "online",
                "start": f"{day}T09:00:00+03:00",
                "end": f"{day}T17:00:00+03:00",
                "time_zone": "Africa/Addis_Ababa",
                "languages": ["fr"],
                "apply_url": "https://training.example.org/apply",
                "sharing": sharing,
            }
            made = await training_service.create_training(
                session,
                operator,
                msgspec.convert(body, training_schemas.TrainingCreate),
                origin=node.settings.issuer,
            )
            assert isinstance(made, training_schemas.Training)


@asynccontextmanager
async def signed_in(
    node: WebNode, someone: Someone, language: str = "en"
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.base, headers={"Accept-Language": language}) as http:
        await sign_in(http, node, someone)
        yield http


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def save(http: httpx.AsyncClient, page: str, name: str, *, notify: bool = False) -> httpx.Response:
    """Save the search at ``page`` with the form that page shows."""
    shown = await http.get(page)
    assert shown.status_code == 200, shown.text
    form = re.search(
        r'<form method="post" action="/searches" class="save-search".*?</form>', shown.text, re.S
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))
    data = {k: unescape(v) for k, v in fields.items()} | {"name": name}
    if notify:
        data["notify"] = "1"
    return await http.post("/searches", data=data)


async def saved_rows(node: WebNode, person: Someone) -> list[Any]:
    return await node.sql(
        "SELECT s.* FROM saved_searches s JOIN people p ON p.id = s.person_id "
        "WHERE p.subject = $1 ORDER BY s.created_at",
        person.subject,
    )


def new_counts(html: str) -> dict[str, int]:
    """Each saved search on the page by name, with the count of new records shown beside it."""
    found = re.findall(
        r'<a href="/searches/[0-9a-f-]+">([^<]+)</a> \([^)]*\): <span class="new">(\d+) new', html
    )
    return {unescape(name): int(count) for name, count in found}


async def test_a_saved_search_counts_what_is_new_since_it_was_last_opened(web_node: WebNode) -> None:
    a = await web_node.organisation()
    b = await web_node.organisation()
    person = await web_node.person(a, ["staff"])
    token = word()
    await add_experts(web_node, a, [f"Before {token}"])
    async with signed_in(web_node, person) as http:
        made = await save(http, f"/roster?q={token}", "Mediators")
        assert made.status_code == 303
        assert made.headers["location"] == "/searches?saved=1"
        made = await save(http, f"/trainings?q={token}", "Courses")
        assert made.status_code == 303
        home = await http.get("/")
        assert new_counts(home.text) == {"Mediators": 0, "Courses": 0}

        # counted: A's two matching experts, B's network one; not: B's private one, A's other one
        await add_experts(web_node, a, [f"Amina {token}", f"Bruno {token}", "Unrelated Person"])
        await add_experts(web_node, b, [f"Chidi {token}"])
        await add_experts(web_node, b, [f"Hidden {token}"], sharing="private")
        # counted: A's matching training; not: B's private one, A's unrelated one
        await add_trainings(web_node, a, [f"Course {token}", "Another course"])
        await add_trainings(web_node, b, [f"Secret {token}"], sharing="private")

        home = await http.get("/")
        assert new_counts(home.text) == {"Mediators": 3, "Courses": 1}
        listed = await http.get("/searches")
        assert listed.status_code == 200
        assert "Mediators" in listed.text
        assert "Courses" in listed.text

        (roster_row, _) = await saved_rows(web_node, person)
        assert (roster_row["kind"], roster_row["query"]) == ("roster", f"q={token}")
        opened = await http.get(f"/searches/{roster_row['id']}")
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/roster?q={token}"
        home = await http.get("/")
        assert new_counts(home.text) == {"Mediators": 0, "Courses": 1}

        token_field = csrf(listed.text)
        renamed = await http.post(
            f"/searches/{roster_row['id']}/rename",
            data={"csrf_token": token_field, "name": "Envoys", "notify": "1"},
        )
        assert renamed.status_code == 303
        deleted = await http.post(f"/searches/{roster_row['id']}/delete", data={"csrf_token": token_field})
        assert deleted.status_code == 303
    rows = await saved_rows(web_node, person)
    assert [r["name"] for r in rows] == ["Courses"]


async def test_searches_of_another_person_or_organisation_are_never_listed_or_reachable(
    web_node: WebNode,
) -> None:
    a = await web_node.organisation()
    b = await web_node.organisation()
    owner = await web_node.person(a, ["staff"])
    colleague = await web_node.person(a, ["staff"])
    stranger = await web_node.person(b, ["staff"])
    async with signed_in(web_node, owner) as http:
        assert (await save(http, "/roster?q=ceasefire", "Owner's own search")).status_code == 303
    (row,) = await saved_rows(web_node, owner)
    for someone in (colleague, stranger):
        async with signed_in(web_node, someone) as http:
            listed = await http.get("/searches")
            home = await http.get("/")
            assert "Owner&#39;s own search" not in listed.text + home.text
            assert "Owner's own search" not in listed.text + home.text
            token = csrf(listed.text)
            answers = [
                await http.get(f"/searches/{row['id']}"),
                await http.post(f"/searches/{row['id']}/rename", data={"csrf_token": token, "name": "Taken"}),
                await http.post(f"/searches/{row['id']}/delete", data={"csrf_token": token}),
            ]
            assert [a.status_code for a in answers] == [404, 404, 404]
    (after,) = await saved_rows(web_node, owner)
    assert (after["name"], after["last_looked_at"]) == ("Owner's own search", row["last_looked_at"])


async def test_a_post_without_its_csrf_token_is_refused(web_node: WebNode) -> None:
    a = await web_node.organisation()
    person = await web_node.person(a, ["staff"])
    async with signed_in(web_node, person) as http:
        refused = await http.post("/searches", data={"kind": "roster", "query": "", "name": "Forged"})
        forged = await http.post(
            "/searches", data={"kind": "roster", "query": "", "name": "Forged", "csrf_token": "0" * 64}
        )
    assert (refused.status_code, forged.status_code) == (403, 403)
    assert await saved_rows(web_node, person) == []


async def test_bad_input_is_named_beside_its_fields_and_nothing_is_written(web_node: WebNode) -> None:
    a = await web_node.organisation()
    person = await web_node.person(a, ["staff"])
    async with signed_in(web_node, person) as http:
        token = csrf((await http.get("/searches")).text)
        bad = await http.post(
            "/searches", data={"csrf_token": token, "kind": "offices", "query": "q=x", "name": "n" * 101}
        )
        assert bad.status_code == 422
        assert 'id="new-kind-error"' in bad.text
        assert 'id="new-name-error"' in bad.text
        assert "longer than 100 characters" in bad.text
        worse = await http.post(
            "/searches",
            data={"csrf_token": token, "kind": "roster", "query": "seniority=eternal", "name": " "},
        )
        assert worse.status_code == 422
        assert 'id="new-query-error"' in worse.text
        assert 'id="new-name-error"' in worse.text
        assert await saved_rows(web_node, person) == []

        assert (await save(http, "/roster", "Everyone")).status_code == 303
        (row,) = await saved_rows(web_node, person)
        empty = await http.post(f"/searches/{row['id']}/rename", data={"csrf_token": token, "name": ""})
        assert empty.status_code == 422
        assert f'id="name-{row["id"]}-error"' in empty.text
    (after,) = await saved_rows(web_node, person)
    assert after["name"] == "Everyone"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


async def test_the_daily_email_lists_exactly_the_new_records_in_the_persons_language(
    web_node: WebNode,
) -> None:
    a = await web_node.organisation()
    b = await web_node.organisation()
    person = await web_node.person(a, ["staff"])
    quiet = await web_node.person(a, ["staff"])
    token = word()
    await add_experts(web_node, a, [f"Earlier {token}"])
    async with signed_in(web_node, person, "fr") as http:
        assert (await save(http, f"/roster?q={token}", "Médiateurs", notify=True)).status_code == 303
    async with signed_in(web_node, quiet) as http:
        assert (await save(http, f"/roster?q={token}", "Not e-mailed")).status_code == 303
    await add_experts(web_node, a, [f"Amina {token}", f"Bruno {token}"])
    await add_experts(web_node, b, [f"Hidden {token}"], sharing="private")

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    engine = make_engine(web_node.settings.database_url, pool_size=2)  # type: ignore[arg-type]
    mailing = replace(
        web_node.settings,
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_tls="none",
        mail_from="msnet@example.org",
    )
    try:
        sessionmaker = make_sessionmaker(engine)
        assert await saved.send_due(sessionmaker, mailing) == 0  # saved less than a day ago
        tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
        assert await saved.send_due(sessionmaker, mailing, now=tomorrow) == 1
        assert await saved.send_due(sessionmaker, mailing, now=tomorrow) == 0  # once a day
        worker = Worker(sessionmaker, mailing, Metrics())
        try:
            await worker.run_once()
        finally:
            await worker.close()
    finally:
        controller.stop()
        await engine.dispose()

    mine = [m for m in mailbox.messages if m.rcpt_tos == [person.email]]
    assert len(mine) == 1
    assert not [m for m in mailbox.messages if quiet.email in m.rcpt_tos]
    mail = email.message_from_bytes(mine[0].original_content, policy=email.policy.default)
    assert mail["Subject"] == "msnet : 2 nouveaux éléments dans vos recherches enregistrées"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    listed = re.findall(rf"^\* (\S+ {token}) ", text, re.M)
    assert listed == [f"Amina {token}", f"Bruno {token}"]
    assert "Médiateurs : 2 nouveaux" in text


async def axe_clean(page: Page, what: str) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"


async def test_saving_a_search_in_a_browser_in_both_languages(
    web_node: WebNode, signed_in_page: SignedInPage
) -> None:
    a = await web_node.organisation()
    person = await web_node.person(a, ["staff"])
    token = word()
    page = await signed_in_page(web_node, person)
    await page.goto(f"{web_node.base}/roster?q={token}")
    await page.get_by_label("Name", exact=True).fill("By keyboard")
    await page.get_by_label("E-mail me every day what is new").check()
    await page.get_by_role("button", name="Save this search").click()
    await expect(page.locator("#saved-notice")).to_have_text("The search was saved.")
    await expect(page.get_by_role("link", name="By keyboard")).to_be_visible()
    await axe_clean(page, "the saved searches")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", name="Recherches enregistrées", level=1)).to_be_visible()
    await axe_clean(page, "the saved searches in French")
    await page.goto(f"{web_node.base}/")
    await expect(page.get_by_text("0 nouveau depuis votre dernière visite")).to_be_visible()
    await axe_clean(page, "the home page with saved searches in French")
    await page.get_by_role("link", name="By keyboard").click()
    await expect(page).to_have_url(f"{web_node.base}/roster?q={token}")
    (row,) = await saved_rows(web_node, person)
    assert (row["kind"], row["query"], row["notify"], row["language"]) == ("roster", f"q={token}", True, "en")
