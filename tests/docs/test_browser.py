"""The interactive documentation in a real browser, with no internet: every file it needs comes from
msnet itself, and after authorising with a client's id and secret, "Try it out" calls the API."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser import BROWSER_LOOP, OfflinePage
from tests.conftest import DemoTemplate
from tests.docs.test_client import _credentials

pytestmark = BROWSER_LOOP


async def test_swagger_ui_renders_offline_and_calls_the_api_once_authorised(
    offline_page: OfflinePage, demo_template: DemoTemplate, live_server: str
) -> None:
    page = offline_page.page
    client_id, secret = _credentials(demo_template)
    # Swagger UI renders the whole document (77 operations) before the page has loaded: seconds of
    # CPU, ten and more on a busy 2-core machine, hence a longer wait for this one step.
    await page.goto(f"{live_server}/schema", timeout=60_000)
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("msnet")

    await page.locator(".scheme-container button.authorize").click()
    oauth = page.locator(".auth-container").filter(has_text="clientCredentials")
    await oauth.locator("input[id^=client_id_]").fill(client_id)
    await oauth.locator("input[id^=client_secret_]").fill(secret)
    await oauth.locator(".scopes a[data-all]").click()  # select all
    await oauth.locator("button.authorize").click()
    await expect(oauth.locator("button", has_text="Logout")).to_be_visible()
    await page.locator(".modal-ux button.close-modal").click()

    operation = page.locator("#operations-audit-list_audit_entries")
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    await expect(status).to_have_text(re.compile(r"^\s*200"))
    await expect(
        operation.locator(".live-responses-table .response .response-col_description")
    ).to_contain_text('"items"')
    assert offline_page.refused == []
