"""Signing in through an organisation's own OpenID Connect provider, over real HTTP against a live
msnet and real providers (oidc-provider-mock), and once in a real browser."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import WebNode, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_person_signs_in_and_sees_their_home_page(web_node: WebNode) -> None:
    slug = await web_node.organisation()
    someone = await web_node.person(slug, ["staff"], name="Amina Diallo")
    async with httpx.AsyncClient() as http:
        done = await sign_in(http, web_node, someone)
        assert done.headers["location"] == "/"
        home = await http.get(f"{web_node.base}/")
    assert home.status_code == 200
    assert "Amina Diallo" in home.text


async def test_in_a_browser_a_person_signs_in_switches_language_and_signs_out(
    web_node: WebNode, browser: Browser
) -> None:
    slug = await web_node.organisation()
    someone = await web_node.person(slug, ["staff", "roster_manager"], name="Jean Dupont")
    context = await browser.new_context(service_workers="block")
    try:
        page = await context.new_page()
        await page.goto(f"{web_node.base}/admin/idp")  # not signed in: the login page, which comes back here
        await expect(page).to_have_url(re.compile(r"/login\?next=/admin/idp$"))
        await page.get_by_role("link", name=f"Organisation {slug.upper()}").click()
        await page.get_by_placeholder("sub").fill(someone.subject)
        await page.get_by_role("button", name="Authorize").click()
        await expect(page).to_have_url(f"{web_node.base}/admin/idp")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Error 403")  # not an administrator
        await page.get_by_role("link", name="Go to your home page").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Jean Dupont")
        await expect(page.get_by_role("list").filter(has_text="Roster manager")).to_be_visible()

        await page.get_by_role("link", name="Français").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue, Jean Dupont")
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await page.reload()  # the session keeps the language
        await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

        await page.get_by_role("button", name="Se déconnecter").click()
        await expect(page).to_have_url(f"{web_node.base}/login")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
        await page.goto(f"{web_node.base}/")
        await expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    finally:
        await context.close()
