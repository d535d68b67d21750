"""Signing in through an organisation's own OpenID Connect provider, over real HTTP against a live
msnet and real providers (oidc-provider-mock), and once in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from msnet.demo import specs, staff
from msnet.demo.provider import running
from tests.helpers import cli_env, run_cli
from tests.web.conftest import SignedInPage, Someone, WebNode, authorize_at_provider, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_person_signs_in_and_sees_their_home_page(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug, ["staff"], name="Amina Diallo")
    async with httpx.AsyncClient() as http:
        done = await sign_in(http, signin_node, someone)
        assert done.headers["location"] == "/"
        home = await http.get(f"{signin_node.base}/")
    assert home.status_code == 200
    assert "Amina Diallo" in home.text


async def test_in_a_browser_a_person_signs_in_switches_language_and_signs_out(
    signin_node: WebNode, browser: Browser
) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug, ["staff", "roster_manager"], name="Jean Dupont")
    context = await browser.new_context(service_workers="block")
    try:
        page = await context.new_page()
        await page.goto(
            f"{signin_node.base}/admin/idp"
        )  # not signed in: the login page, which comes back here
        await expect(page).to_have_url(re.compile(r"/login\?next=/admin/idp$"))
        await page.get_by_role("link", name=f"Organisation {slug.upper()}").click()
        await page.get_by_placeholder("sub").fill(someone.subject)
        await page.get_by_role("button", name="Authorize").click()
        await expect(page).to_have_url(f"{signin_node.base}/admin/idp")
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
        await expect(page).to_have_url(f"{signin_node.base}/login")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
        await page.goto(f"{signin_node.base}/")
        await expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    finally:
        await context.close()


async def test_the_first_sign_in_gives_no_role(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    newcomer = await signin_node.person(slug, registered=False, name="New Comer")
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, newcomer)
        home = await http.get(f"{signin_node.base}/")
        admin = await http.get(f"{signin_node.base}/admin/idp")
    assert home.status_code == 200
    assert "You have no role yet" in home.text
    assert 'href="/roster"' not in home.text  # the navigation is there, the links to the records are not
    assert admin.status_code == 403
    [row] = await signin_node.sql(
        "SELECT roles, email, name FROM people WHERE subject = $1", newcomer.subject
    )
    assert (row["roles"], row["email"], row["name"]) == ([], newcomer.email, "New Comer")


async def test_roles_come_from_the_provider_s_role_claim_when_one_is_configured(signin_node: WebNode) -> None:
    slug = await signin_node.organisation(role_claim="msnet_roles")
    someone = await signin_node.person(
        slug, registered=False, claims={"msnet_roles": ["roster_manager", "org_admin", "superuser"]}
    )
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        assert (await http.get(f"{signin_node.base}/admin/idp")).status_code == 200
    async with httpx.AsyncClient() as provider:  # the provider takes a role away: the next sign-in follows
        await provider.put(
            f"{signin_node.issuers['a']}/users/{someone.subject}",
            json={"email": someone.email, "name": someone.name, "msnet_roles": "staff"},
        )
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        assert (await http.get(f"{signin_node.base}/admin/idp")).status_code == 403
    [row] = await signin_node.sql("SELECT roles FROM people WHERE subject = $1", someone.subject)
    assert row["roles"] == ["staff"]


async def test_only_people_with_an_e_mail_at_the_organisation_s_domains_sign_in(signin_node: WebNode) -> None:
    slug = await signin_node.organisation(email_domains=("staff.example.org",))
    inside = await signin_node.person(slug, email="ana@staff.example.org")
    outside = await signin_node.person(slug, email="ana@elsewhere.example.org")
    unverified = await signin_node.person(
        slug, email="bo@staff.example.org", claims={"email_verified": False}
    )
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, inside)
    for someone in (outside, unverified):
        async with httpx.AsyncClient() as http:
            begun = await http.get(f"{signin_node.base}/login/{slug}")
            answer = await http.get(
                await authorize_at_provider(http, begun.headers["location"], someone.subject)
            )
            assert answer.status_code == 400
            assert "msnet_session" not in answer.headers.get("set-cookie", "")


async def test_the_same_e_mail_at_another_provider_is_another_person(signin_node: WebNode) -> None:
    """A person is (issuer, subject): when the organisation moves to another provider, someone there
    with the administrator's e-mail (and even subject) is a new person, with no role."""
    slug = await signin_node.organisation("a")
    admin = await signin_node.person(slug, ["org_admin"], subject="shared-subject", email="chief@example.org")
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, admin)
    await signin_node.organisation("b", slug=slug)
    async with httpx.AsyncClient() as provider_b:
        await provider_b.put(
            f"{signin_node.issuers['b']}/users/shared-subject",
            json={"email": "chief@example.org", "name": "Impostor"},
        )
    async with httpx.AsyncClient() as http:
        await sign_in(
            http, signin_node, Someone(slug, "shared-subject", "chief@example.org", "Impostor", "b")
        )
        assert (await http.get(f"{signin_node.base}/admin/idp")).status_code == 403
        assert "You have no role yet" in (await http.get(f"{signin_node.base}/")).text
    rows = await signin_node.sql(
        "SELECT issuer, roles FROM people WHERE email = 'chief@example.org' ORDER BY roles"
    )
    assert [(r["issuer"], r["roles"]) for r in rows] == [
        (signin_node.issuers["b"], []),
        (signin_node.issuers["a"], ["org_admin"]),
    ]


async def test_an_administrator_grants_roles_from_the_command_line(
    signin_node: WebNode, tmp_path: Path
) -> None:
    slug = await signin_node.organisation()
    newcomer = await signin_node.person(slug, registered=False)
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, newcomer)
        granted = run_cli(
            signin_node.settings, "user", "grant", "--org", slug, "--email", newcomer.email, "roster_manager"
        )
        assert granted.returncode == 0, granted.stderr
        assert json.loads(granted.stdout)["roles"] == ["roster_manager"]
        home = await http.get(f"{signin_node.base}/")  # the session sees the new role at once
        assert "Roster manager" in home.text
        revoked = run_cli(
            signin_node.settings,
            "user",
            "revoke",
            "--org",
            slug,
            "--subject",
            newcomer.subject,
            "roster_manager",
        )
        assert json.loads(revoked.stdout)["roles"] == []
    bad = run_cli(signin_node.settings, "user", "grant", "--org", slug, "--email", newcomer.email, "king")
    assert bad.returncode != 0
    assert "unknown role king" in bad.stderr
    rows = await signin_node.sql(
        "SELECT a.actor FROM audit_log a JOIN organisations o ON o.id = a.organisation_id "
        "WHERE o.slug = $1 AND a.action = 'person.roles' ORDER BY a.seq",
        slug,
    )
    assert [r["actor"] for r in rows] == ["operator", "operator"]


async def test_an_administrator_registers_the_provider_from_the_command_line(
    signin_node: WebNode, tmp_path: Path
) -> None:
    slug = await signin_node.organisation()
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    env = cli_env(signin_node.settings, MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES="on")
    done = run_cli(
        None,
        *("org", "idp", "set", slug, "--issuer", signin_node.issuers["b"], "--client-id", "from-cli"),
        *("--client-secret-file", str(secret), "--email-domain", "Example.ORG", "--role-claim", "groups"),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "organisation": slug,
        "issuer": signin_node.issuers["b"],
        "client_id": "from-cli",
        "email_domains": ["example.org"],
        "role_claim": "groups",
        "redirect_uri": f"{signin_node.base}/auth/{slug}/callback",
    }
    [row] = await signin_node.sql(
        "SELECT client_secret_encrypted FROM identity_providers i JOIN organisations o ON o.id = i.organisation_id "
        "WHERE o.slug = $1",
        slug,
    )
    assert "s3cret" not in row["client_secret_encrypted"]
    bad = run_cli(  # without MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES: a loopback issuer is refused
        None,
        *("org", "idp", "set", slug, "--issuer", signin_node.issuers["a"], "--client-id", " x"),
        *("--client-secret-file", str(secret), "--email-domain", "not a domain"),
        env=cli_env(signin_node.settings),
    )
    assert bad.returncode != 0
    assert "issuer: points at a loopback" in bad.stderr
    assert "client_id: must be" in bad.stderr
    assert "email_domains: 'not a domain' is not a domain name" in bad.stderr


async def test_the_admin_page_shows_every_mistake_beside_its_field_and_writes_nothing(
    signin_node: WebNode,
) -> None:
    slug = await signin_node.organisation()
    admin = await signin_node.person(slug, ["org_admin"])
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, admin)
        page = await http.get(f"{signin_node.base}/admin/idp")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert f"{signin_node.base}/auth/{slug}/callback" in page.text
        bad = await http.post(
            f"{signin_node.base}/admin/idp",
            data={
                "csrf_token": token,
                "issuer": "ftp://x",
                "client_id": "",
                "email_domains": "ok.example.org bad_domain",
                "role_claim": "has space",
            },
        )
    assert bad.status_code == 422
    for field in ("issuer", "client_id", "email_domains", "role_claim"):
        assert f'id="{field}-error"' in bad.text
        assert (
            f'aria-describedby="{field}-hint {field}-error"' in bad.text
            or f'aria-describedby="{field}-error"' in bad.text
        )
    assert "4 fields are not valid" in bad.text
    [row] = await signin_node.sql(
        "SELECT client_id, updated_by FROM identity_providers i JOIN organisations o ON o.id = i.organisation_id "
        "WHERE o.slug = $1",
        slug,
    )
    assert (row["client_id"], row["updated_by"]) == (f"msnet-{slug}", "operator")


async def axe_clean(page: Page, what: str) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"


async def test_the_sign_in_pages_pass_axe_in_english_and_french(
    signin_node: WebNode, signed_in_page: SignedInPage
) -> None:
    slug = await signin_node.organisation()
    admin = await signin_node.person(slug, ["org_admin"], name="Ama Mensah")
    page = await signed_in_page(signin_node, admin)
    for language, heading, field in [
        ("en", "Identity provider", "Issuer URL"),
        ("fr", "Fournisseur d’identité", "URL de l’émetteur"),
    ]:
        await page.goto(f"{signin_node.base}/language/{language}?next=/")
        await axe_clean(page, f"the home page ({language})")
        await page.goto(f"{signin_node.base}/admin/idp")
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await page.get_by_label(field).fill("ftp://nowhere")
        await page.keyboard.press("Enter")  # the form by keyboard
        await expect(page.locator("#issuer-error")).to_be_visible()
        await expect(page.get_by_label(field)).to_have_attribute("aria-invalid", "true")
        await axe_clean(page, f"the identity provider's form with errors ({language})")
        await page.goto(f"{signin_node.base}/language/xx")  # 422: no such language
        await axe_clean(page, f"an error page ({language})")
    context = await page.context.browser.new_context(locale="fr-FR")  # type: ignore[union-attr]
    try:
        anonymous = await context.new_page()
        await anonymous.goto(f"{signin_node.base}/login")
        await expect(anonymous.get_by_role("heading", level=1)).to_have_text("Se connecter")
        await axe_clean(anonymous, "the login page (fr)")
        await anonymous.get_by_role("link", name="English").click()
        await expect(anonymous.get_by_role("heading", level=1)).to_have_text("Sign in")
        await axe_clean(anonymous, "the login page (en)")
        await anonymous.goto(f"{signin_node.base}/auth/{slug}/callback?state=forged&code=forged")
        await expect(anonymous.get_by_role("alert")).to_contain_text("The sign-in did not succeed")
        await axe_clean(anonymous, "a refused sign-in")
    finally:
        await context.close()


async def test_the_demo_staff_sign_in_through_the_demo_s_provider(demo_web_node: WebNode) -> None:
    """What `msnet demo` sets up: its provider, every demo organisation's, with three people each."""
    with running(staff.users()) as issuer:
        printed = await staff.register(demo_web_node.settings, issuer)
        assert f"open {demo_web_node.base}/login" in printed
        async with httpx.AsyncClient() as http:
            login = await http.get(f"{demo_web_node.base}/login")
            assert login.text.count('href="/login/') == len(specs.organisations())
            begun = await http.get(f"{demo_web_node.base}/login/un")
            assert begun.headers["location"].startswith(f"{issuer}/oauth2/authorize?")
            await http.get(await authorize_at_provider(http, begun.headers["location"], "un-roster"))
            home = await http.get(f"{demo_web_node.base}/")
            assert "Welcome, UN roster manager" in home.text
            assert "Roster manager" in home.text
            assert "Organisation administrator" not in home.text
        async with httpx.AsyncClient() as http:  # the AU's staff are not the UN's
            begun = await http.get(f"{demo_web_node.base}/login/un")
            refused = await http.get(await authorize_at_provider(http, begun.headers["location"], "au-staff"))
            assert refused.status_code == 400
