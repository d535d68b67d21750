"""Asking for support, answering and accepting in a real Chromium across two organisations: A's staff
fill the form (finding the process in the registry), see the matches and submit to B's office; B's
staff find it in their inbox and offer an expert; A accepts the offer. axe-core finds no WCAG 2.2 AA
violation on the form, a draft with its matches, the inbox, the offers side by side and the home
page, in English and in French."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import expect

from tests.web.conftest import SignedInPage, WebNode
from tests.web.pages import axe_clean
from tests.web.test_requests import START, make_network

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_requests_browser.py"),
]


async def test_a_asks_b_offers_a_accepts_in_both_languages(
    web_node: WebNode, signed_in_page: SignedInPage
) -> None:
    net = await make_network(web_node)
    a = await signed_in_page(web_node, net.a_staff)
    await a.get_by_role("link", name="Ask for support").first.click()
    await expect(a.get_by_role("heading", name="Ask for support", level=1)).to_be_visible()
    await axe_clean(a, "the form of a new request")
    await a.get_by_label("Find a process").fill("delta")
    await a.get_by_role("button", name="Find processes").click()
    await a.get_by_label("Inner Niger delta local dialogue").check()
    await a.get_by_label("Your office that asks").select_option(label=f"{net.a} Mediation Support Unit")
    await a.get_by_label("Title").fill("Design of the delta dialogue")
    await a.get_by_label("Process design").check()
    await a.get_by_label("From", exact=True).fill(str(START))
    await a.get_by_label("To", exact=True).fill(str(START + timedelta(days=60)))
    await a.get_by_label("Languages").fill("fr")
    await a.get_by_role("button", name="Save the draft and see the matches").click()
    await expect(a.locator("#state")).to_have_text("Draft")
    await expect(a.get_by_role("heading", name="Who can help: the matches")).to_be_visible()
    await axe_clean(a, "a draft with its matches")
    await a.get_by_label(f"Ask {net.b} Mediation Support Unit").check()
    await a.get_by_role("button", name="Submit the request").click()
    await expect(a.locator("#state")).to_have_text("Submitted")

    b = await signed_in_page(web_node, net.b_staff)
    await expect(b.locator("#home-inbox")).to_have_text("1 request awaits your answer")
    await axe_clean(b, "the home page")
    await b.locator("#home-inbox").click()
    await axe_clean(b, "the inbox")
    await b.get_by_role("link", name="Design of the delta dialogue").click()
    await b.get_by_label("Offer support").check()
    await b.get_by_label("Awa Traoré").check()
    await b.get_by_label("Note").fill("One francophone adviser.")
    await axe_clean(b, "the answer's form")
    await b.get_by_role("button", name="Send the answer").click()
    await expect(b.get_by_role("heading", name="Answer this request")).to_have_count(0)

    await a.reload()
    await expect(a.get_by_role("table", name="The offers side by side")).to_contain_text("Awa Traoré")
    await axe_clean(a, "the offers side by side")
    await a.get_by_role("link", name="Français").click()
    await expect(a.get_by_role("table", name="Les offres côte à côte")).to_be_visible()
    await axe_clean(a, "the offers side by side, in French")
    await a.get_by_role("button", name=f"Accepter l’offre de {net.b} Mediation Support Unit").click()
    await expect(a.locator("#state")).to_have_text("Offre acceptée")
    await expect(a.locator("ol.timeline li")).to_have_count(4)
    await axe_clean(a, "an accepted request, in French")
    await a.goto(f"{web_node.base}/requests/new")
    await axe_clean(a, "the form of a new request, in French")
    await a.goto(f"{web_node.base}/")
    await axe_clean(a, "the home page, in French")
