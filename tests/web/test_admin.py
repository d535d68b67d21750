"""The administration's pages (/admin, role org_admin): API clients (a secret shown once, a revoked
client's tokens refused by the API), people and roles, webhooks, digest subscriptions, and the audit
log (filters, pages, a CSV export of exactly what is filtered, the chain's verification). Each action
is audited with the person as actor; staff without the role get 403 on every page and form; an
administrator of another organisation sees and changes nothing of this one's; a form without its
CSRF token or with mistakes writes nothing. Over real HTTP against a live msnet signed in through a
real OpenID Connect provider (``web_node``, shared by the module), and one walk through a real
Chromium with axe-core in both languages."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from functools import partial
from html import unescape

import httpx
import pytest
import pytest_asyncio
from litestar.routes import HTTPRoute
from playwright.async_api import expect

from msnet.app import create_app
from msnet.audit.service import payload_digest, record_action
from msnet.training import digest
from msnet.training import schemas as training_schemas
from tests.web import pages
from tests.web.conftest import SignedInPage, Someone, WebNode
from tests.web.pages import as_operator, axe_clean, csrf, field_error, signed_in

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_admin.py"),
]

owner_rows = partial(
    pages.owner_rows,
    lifted=("audit_log", "oauth_clients", "people", "webhook_endpoints", "digest_subscriptions"),
)


@dataclass
class Admin:
    a: str
    b: str
    admin: Someone
    staff: Someone
    b_admin: Someone
    issuer: str

    def actor(self, someone: Someone) -> str:
        return f"person:{self.issuer}#{someone.subject}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin(web_node: WebNode) -> Admin:
    a = await web_node.organisation("a")
    b = await web_node.organisation("a")
    return Admin(
        a,
        b,
        await web_node.person(a, ["org_admin"], name="Olga Admin"),
        await web_node.person(a, ["staff", "roster_manager"], name="Sam Staff"),
        await web_node.person(b, ["org_admin"], name="Bo Admin"),
        web_node.issuers["a"],
    )


async def entries(node: WebNode, slug: str, action: str) -> list[tuple[str, str | None]]:
    """The (actor, record) of each audit entry of ``slug``'s with ``action``, oldest first."""
    rows = await owner_rows(
        node,
        "SELECT l.actor, l.resource_id FROM audit_log l JOIN organisations o ON o.id = l.organisation_id"
        " WHERE o.slug = $1 AND l.action = $2 ORDER BY l.seq",
        slug,
        action,
    )
    return [(r["actor"], r["resource_id"]) for r in rows]


async def clients_of(node: WebNode, slug: str) -> list[str]:
    rows = await owner_rows(
        node,
        "SELECT c.name FROM oauth_clients c JOIN organisations o ON o.id = c.organisation_id WHERE o.slug = $1",
        slug,
    )
    return sorted(r["name"] for r in rows)


def shown_secret(html: str) -> str | None:
    match = re.search(r'<code id="secret">([^<]+)</code>', html)
    return unescape(match.group(1)) if match else None


def form_key(html: str, action: str) -> str:
    form = re.search(rf'<form method="post" action="{re.escape(action)}">(.*?)</form>', html, re.S)
    assert form is not None, action
    return re.search(r'name="form_key" value="([^"]+)"', form.group(1)).group(1)  # type: ignore[union-attr]


def new_form_key(html: str) -> str:
    return re.findall(r'name="form_key" value="([^"]+)"', html)[-1]


async def token(node: WebNode, client_id: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.base) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "audit:read"},
            auth=(client_id, secret),
        )


async def make_client(http: httpx.AsyncClient, name: str) -> tuple[str, str]:
    """A client made through the page; its id and the secret the page showed."""
    form = await http.get("/admin/clients")
    made = await http.post(
        "/admin/clients",
        data={
            "csrf_token": csrf(form.text),
            "form_key": new_form_key(form.text),
            "name": name,
            "scopes": ["audit:read", "roster:read"],
        },
    )
    assert made.status_code == 201, made.text
    client_id = re.search(r"Client ID: <code>([^<]+)</code>", made.text).group(1)  # type: ignore[union-attr]
    secret = shown_secret(made.text)
    assert secret is not None
    assert secret.startswith("mss_")
    return client_id, secret


async def test_staff_without_the_administrator_s_role_get_403_on_every_admin_page_and_form(
    web_node: WebNode, admin: Admin
) -> None:
    """Generated from the route table, so that an administration page added later is checked too."""
    checked = []
    async with signed_in(web_node, admin.staff) as http:
        token_field = csrf((await http.get("/roster")).text)
        for route in create_app(web_node.settings).routes:
            assert isinstance(route, HTTPRoute)
            if not route.path.startswith("/admin"):
                continue
            path = re.sub(r"{\w+:\w+}", lambda _: str(uuid.uuid4()), route.path)
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                    checked.append(f"{method} {route.path}")
                    data = {"csrf_token": token_field} if method == "POST" else None
                    answer = await http.request(method, path, data=data)
                    assert answer.status_code == 403, (method, route.path, answer.status_code)
    assert {
        "GET /admin",
        "GET /admin/clients",
        "POST /admin/clients",
        "POST /admin/clients/{client_id:str}/secret",
        "POST /admin/clients/{client_id:str}/revoke",
        "GET /admin/people",
        "POST /admin/people/{person_id:uuid}",
        "GET /admin/webhooks",
        "POST /admin/webhooks",
        "POST /admin/webhooks/{webhook_id:uuid}/delete",
        "GET /admin/subscriptions",
        "POST /admin/subscriptions/{subscription_id:uuid}/delete",
        "GET /admin/audit",
        "GET /admin/audit.csv",
        "POST /admin/audit/verify",
        "GET /admin/idp",
    } <= set(checked)
    denied = await entries(web_node, admin.a, "access.denied")
    assert denied
    assert all(actor == admin.actor(admin.staff) for actor, _ in denied)


async def test_a_client_is_made_its_secret_rotated_once_and_revoked_and_the_api_follows(
    web_node: WebNode, admin: Admin
) -> None:
    async with signed_in(web_node, admin.admin) as http:
        client_id, secret = await make_client(http, "Case system")
        assert (await token(web_node, client_id, secret)).status_code == 200
        listed = await http.get("/admin/clients")
        assert client_id in listed.text
        assert secret not in listed.text  # shown once: not on the list, not on a reload of the list

        key = form_key(listed.text, f"/admin/clients/{client_id}/secret")
        rotation = {"csrf_token": csrf(listed.text), "form_key": key}
        rotated = await http.post(f"/admin/clients/{client_id}/secret", data=rotation)
        assert rotated.status_code == 200
        new_secret = shown_secret(rotated.text)
        assert new_secret is not None
        assert new_secret != secret
        assert (await token(web_node, client_id, secret)).status_code == 401
        assert (await token(web_node, client_id, new_secret)).status_code == 200
        again = await http.post(f"/admin/clients/{client_id}/secret", data=rotation)  # a reload
        assert again.status_code == 200
        assert shown_secret(again.text) is None
        assert "not shown again" in again.text
        assert (await token(web_node, client_id, new_secret)).status_code == 200  # rotated once only

        issued = (await token(web_node, client_id, new_secret)).json()["access_token"]
        async with httpx.AsyncClient(base_url=web_node.base) as api:
            bearer = {"Authorization": f"Bearer {issued}"}
            assert (await api.get("/v1/audit", headers=bearer)).status_code == 200
            revoked = await http.post(f"/admin/clients/{client_id}/revoke", data=rotation)
            assert revoked.status_code == 303
            assert (await api.get("/v1/audit", headers=bearer)).status_code == 401
        assert client_id not in (await http.get("/admin/clients")).text
    person = admin.actor(admin.admin)
    assert (person, client_id) in await entries(web_node, admin.a, "client.create")
    assert await entries(web_node, admin.a, "client.rotate_secret") == [(person, client_id)]
    assert await entries(web_node, admin.a, "client.delete") == [(person, client_id)]


async def test_a_client_form_with_mistakes_names_each_beside_its_field_and_writes_nothing(
    web_node: WebNode, admin: Admin
) -> None:
    before = await clients_of(web_node, admin.a)
    async with signed_in(web_node, admin.admin) as http:
        form = await http.get("/admin/clients")
        answer = await http.post(
            "/admin/clients",
            data={
                "csrf_token": csrf(form.text),
                "form_key": new_form_key(form.text),
                "name": "x",
                "scopes": ["audit:read", "everything"],
                "jwks": "{not json",
            },
        )
        assert answer.status_code == 422
        for name in ("name", "scopes", "jwks"):
            assert field_error(answer.text, name), name
        assert 'value="x"' in answer.text  # what was entered is kept
        private = await http.post(
            "/admin/clients",
            data={
                "csrf_token": csrf(form.text),
                "form_key": new_form_key(form.text),
                "name": "Signed client",
                "scopes": ["roster:read"],
                "jwks": '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}',
            },
        )
        assert private.status_code == 422
        assert field_error(private.text, "jwks")
    assert await clients_of(web_node, admin.a) == before


async def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(
    web_node: WebNode, admin: Admin
) -> None:
    before = await clients_of(web_node, admin.a)
    async with signed_in(web_node, admin.admin) as http:
        form = await http.get("/admin/clients")
        refused = await http.post(
            "/admin/clients",
            data={"form_key": new_form_key(form.text), "name": "No token", "scopes": ["audit:read"]},
        )
        assert refused.status_code == 403
        forged = await http.post(
            "/admin/clients",
            data={
                "csrf_token": "0" * 64,
                "form_key": new_form_key(form.text),
                "name": "Forged",
                "scopes": ["audit:read"],
            },
        )
        assert forged.status_code == 403
    assert await clients_of(web_node, admin.a) == before


async def test_people_and_their_roles(web_node: WebNode, admin: Admin) -> None:
    someone = await web_node.person(admin.a, ["staff"], name="Rita Roles")
    people = await owner_rows(web_node, "SELECT id, subject FROM people WHERE subject = $1", someone.subject)
    person_id = str(people[0]["id"])
    async with signed_in(web_node, admin.admin) as http:
        listed = await http.get("/admin/people")
        assert "Rita Roles" in listed.text
        assert "Sam Staff" in listed.text
        assert "Bo Admin" not in listed.text
        form = await http.get(f"/admin/people/{person_id}")
        saved = await http.post(
            f"/admin/people/{person_id}",
            data={"csrf_token": csrf(form.text), "roles": ["staff", "roster_manager"]},
        )
        assert saved.status_code == 303
        rows = await owner_rows(web_node, "SELECT roles FROM people WHERE id = $1", people[0]["id"])
        assert rows[0]["roles"] == ["staff", "roster_manager"]
        bad = await http.post(
            f"/admin/people/{person_id}", data={"csrf_token": csrf(form.text), "roles": ["staff", "king"]}
        )
        assert bad.status_code == 422
        assert "unknown role king" in field_error(bad.text, "roles")
        me = await owner_rows(web_node, "SELECT id FROM people WHERE subject = $1", admin.admin.subject)
        alone = await http.post(
            f"/admin/people/{me[0]['id']}", data={"csrf_token": csrf(form.text), "roles": ["staff"]}
        )
        assert alone.status_code == 422
        assert "no administrator left" in field_error(alone.text, "roles")
    rows = await owner_rows(web_node, "SELECT roles FROM people WHERE id = $1", me[0]["id"])
    assert rows[0]["roles"] == ["org_admin"]
    assert await entries(web_node, admin.a, "person.roles") == [(admin.actor(admin.admin), person_id)]
    async with signed_in(web_node, someone) as http:  # the new role is the person's at once
        assert (await http.get("/roster/new")).status_code == 200


async def test_webhooks_made_with_a_secret_shown_once_and_deleted(web_node: WebNode, admin: Admin) -> None:
    async with signed_in(web_node, admin.admin) as http:
        form = await http.get("/admin/webhooks")
        bad = await http.post(
            "/admin/webhooks",
            data={
                "csrf_token": csrf(form.text),
                "form_key": new_form_key(form.text),
                "url": "ftp://x",
                "description": "d" * 600,
            },
        )
        assert bad.status_code == 422
        for name in ("url", "event_types", "description"):
            assert field_error(bad.text, name), name
        assert await owner_rows(web_node, "SELECT id FROM webhook_endpoints WHERE url = 'ftp://x'") == []
        sent = {
            "csrf_token": csrf(form.text),
            "form_key": new_form_key(form.text),
            "url": "https://cases.example.org/hooks/msnet",
            "event_types": ["request.received", "overlap.detected"],
            "description": "Case system",
        }
        made = await http.post("/admin/webhooks", data=sent)
        assert made.status_code == 201
        secret = shown_secret(made.text)
        assert secret is not None
        assert secret.startswith("whsec_")
        again = await http.post("/admin/webhooks", data=sent)
        assert shown_secret(again.text) is None
        assert "not shown again" in again.text
        listed = await http.get("/admin/webhooks")
        assert "https://cases.example.org/hooks/msnet" in listed.text
        assert secret not in listed.text
        rows = await owner_rows(web_node, "SELECT id FROM webhook_endpoints WHERE url = $1", sent["url"])
        assert len(rows) == 1  # the reload made none
        webhook_id = str(rows[0]["id"])
        deleted = await http.post(
            f"/admin/webhooks/{webhook_id}/delete", data={"csrf_token": csrf(form.text)}
        )
        assert deleted.status_code == 303
    assert await owner_rows(web_node, "SELECT id FROM webhook_endpoints WHERE url = $1", sent["url"]) == []
    person = admin.actor(admin.admin)
    assert await entries(web_node, admin.a, "webhook.create") == [(person, webhook_id)]
    assert await entries(web_node, admin.a, "webhook.delete") == [(person, webhook_id)]


async def add_subscription(node: WebNode, slug: str, email: str) -> str:
    async with as_operator(node, slug) as (session, operator):
        made = await digest.create_subscription(
            session,
            operator,
            training_schemas.SubscriptionCreate(
                email=email, period="monthly", filters=training_schemas.DigestFilters(theme="ddr")
            ),
        )
        assert isinstance(made, training_schemas.Subscription)
        return str(made.id)


async def test_digest_subscriptions_listed_and_deleted(web_node: WebNode, admin: Admin) -> None:
    mine = await add_subscription(web_node, admin.a, "msu@a.example.org")
    theirs = await add_subscription(web_node, admin.b, "msu@b.example.org")
    async with signed_in(web_node, admin.admin) as http:
        listed = await http.get("/admin/subscriptions")
        assert "msu@a.example.org" in listed.text
        assert "Monthly" in listed.text
        assert "msu@b.example.org" not in listed.text
        deleted = await http.post(
            f"/admin/subscriptions/{mine}/delete", data={"csrf_token": csrf(listed.text)}
        )
        assert deleted.status_code == 303
        assert "msu@a.example.org" not in (await http.get("/admin/subscriptions")).text
        other = await http.post(
            f"/admin/subscriptions/{theirs}/delete", data={"csrf_token": csrf(listed.text)}
        )
        assert other.status_code == 404
    assert await entries(web_node, admin.a, "subscription.delete") == [(admin.actor(admin.admin), mine)]
    rows = await owner_rows(
        web_node, "SELECT email FROM digest_subscriptions WHERE id = $1", uuid.UUID(theirs)
    )
    assert [r["email"] for r in rows] == ["msu@b.example.org"]


async def test_another_organisation_s_administrator_sees_and_changes_nothing_of_this_one_s(
    web_node: WebNode, admin: Admin
) -> None:
    async with signed_in(web_node, admin.admin) as http:
        client_id, _ = await make_client(http, "A's own system")
        form = await http.get("/admin/webhooks")
        await http.post(
            "/admin/webhooks",
            data={
                "csrf_token": csrf(form.text),
                "form_key": new_form_key(form.text),
                "url": "https://a-only.example.org/hook",
                "event_types": ["request.received"],
            },
        )
    webhook_id = (
        await owner_rows(
            web_node, "SELECT id FROM webhook_endpoints WHERE url = 'https://a-only.example.org/hook'"
        )
    )[0]["id"]
    person_id = (await owner_rows(web_node, "SELECT id FROM people WHERE subject = $1", admin.staff.subject))[
        0
    ]["id"]
    async with signed_in(web_node, admin.b_admin) as http:
        token_field = csrf((await http.get("/admin")).text)
        for path in (
            "/admin/clients",
            "/admin/webhooks",
            "/admin/people",
            "/admin/audit",
            "/admin/audit.csv",
        ):
            answer = await http.get(path)
            assert answer.status_code == 200
            for theirs in (client_id, "a-only.example.org", "Sam Staff", admin.admin.subject, admin.a):
                assert theirs not in answer.text, (path, theirs)
        assert (await http.get(f"/admin/people/{person_id}")).status_code == 404
        for path, data in (
            (f"/admin/clients/{client_id}/secret", {"form_key": "k1"}),
            (f"/admin/clients/{client_id}/revoke", {}),
            (f"/admin/people/{person_id}", {"roles": ["org_admin"]}),
            (f"/admin/webhooks/{webhook_id}/delete", {}),
        ):
            answer = await http.post(path, data={"csrf_token": token_field, **data})
            assert answer.status_code == 404, path
        audit = await http.get("/admin/audit", params={"actor": admin.actor(admin.admin)})
        assert "0 entries match" in audit.text
    assert "A's own system" in await clients_of(web_node, admin.a)
    rows = await owner_rows(web_node, "SELECT roles FROM people WHERE id = $1", person_id)
    assert rows[0]["roles"] == ["staff", "roster_manager"]
    assert await owner_rows(web_node, "SELECT id FROM webhook_endpoints WHERE id = $1", webhook_id)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_audit_log_filtered_paged_and_exported_as_exactly_what_is_filtered(
    web_node: WebNode, admin: Admin
) -> None:
    slug = await web_node.organisation("a")
    someone = await web_node.person(slug, ["org_admin"], name="Audra Auditor")
    async with as_operator(web_node, slug) as (session, operator):
        for n in range(120):
            await record_action(
                session, operator, "test.tick" if n % 2 else "test.tock", "thing", f"t{n % 7}"
            )
        await record_action(session, operator, "test.tick", "thing", "=HYPERLINK(1)")
    org_id = (await owner_rows(web_node, "SELECT id FROM organisations WHERE slug = $1", slug))[0]["id"]

    async def expected(where: str, *args: object) -> list[str]:
        rows = await owner_rows(
            web_node,
            f"SELECT seq FROM audit_log WHERE organisation_id = $1 AND {where} ORDER BY seq DESC",
            org_id,
            *args,
        )
        return [str(r["seq"]) for r in rows]

    async with signed_in(web_node, someone) as http:
        first = await http.get("/admin/audit", params={"action": "test.tick"})
        assert first.status_code == 200
        assert "61 entries match" in first.text
        seqs = re.findall(r"<tr>\s*<td>(\d+)</td>", first.text)
        nxt = re.search(r'href="([^"]+)" rel="next" id="audit-next"', first.text)
        assert nxt is not None
        second = await http.get(unescape(nxt.group(1)))
        seqs += re.findall(r"<tr>\s*<td>(\d+)</td>", second.text)
        assert seqs == await expected("action = 'test.tick'")
        assert 'id="audit-next"' not in second.text

        export = await http.get("/admin/audit.csv", params={"action": "test.tick", "resource_id": "t3"})
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        rows = csv_rows(export.text)
        assert [r["seq"] for r in rows] == await expected("action = 'test.tick' AND resource_id = 't3'")
        assert {(r["action"], r["resource_id"], r["actor"]) for r in rows} == {
            ("test.tick", "t3", "operator")
        }
        formula = csv_rows((await http.get("/admin/audit.csv", params={"resource_id": "=HYPERLINK(1)"})).text)
        assert [r["resource_id"] for r in formula] == ["'=HYPERLINK(1)"]

        today = (await owner_rows(web_node, "SELECT (now() AT TIME ZONE 'UTC')::date AS d"))[0][
            "d"
        ].isoformat()
        period = await http.get(
            "/admin/audit.csv", params={"since": today, "until": today, "action": "test.tock"}
        )
        assert [r["seq"] for r in csv_rows(period.text)] == await expected("action = 'test.tock'")
        before = await http.get("/admin/audit.csv", params={"until": "2020-01-01"})
        assert csv_rows(before.text) == []
        assert "at most 10,000 entries" in first.text

        bad = await http.get(
            "/admin/audit", params={"since": "2026-13-01", "until": "2020-01-01", "actor": "x" * 201}
        )
        assert bad.status_code == 422
        for name in ("since", "actor"):
            assert field_error(bad.text, name), name
        reversed_period = await http.get(
            "/admin/audit", params={"since": "2027-01-02", "until": "2027-01-01"}
        )
        assert "ends before it starts" in field_error(reversed_period.text, "until")
    exported = await entries(web_node, slug, "audit.export")
    assert exported
    assert {actor for actor, _ in exported} == {f"person:{web_node.issuers['a']}#{someone.subject}"}


async def tamper(node: WebNode, actor: str, seq: int) -> None:
    """Set an entry's actor behind the node's back (its append-only trigger off for the while)."""
    await node.sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
    try:
        await node.sql("UPDATE audit_log SET actor = $1 WHERE seq = $2", actor, seq)
    finally:
        await node.sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_the_chain_s_verification_shows_whole_then_broken_where_it_breaks(
    web_node: WebNode, admin: Admin
) -> None:
    async with signed_in(web_node, admin.admin) as http:
        page = await http.get("/admin/audit")
        assert "Not verified since the node started." in page.text
        verify = await http.post("/admin/audit/verify", data={"csrf_token": csrf(page.text)})
        assert verify.status_code == 303
        whole = await http.get(verify.headers["location"])
        # an organisation's administrator learns whether the chain is whole, never the node's counts
        status = unescape(whole.text).split('id="chain-status"')[1].split("</div>")[0]
        assert "Whole: the chain is in order and unaltered." in status
        assert re.search(r"\d+ entr", status) is None
        assert "Not witnessed: no peer holds a checkpoint of this chain" in whole.text
        victim = (await web_node.sql("SELECT seq, id, actor FROM audit_log ORDER BY seq LIMIT 1 OFFSET 3"))[0]
        await tamper(web_node, "forged", victim["seq"])
        try:
            await http.post("/admin/audit/verify", data={"csrf_token": csrf(page.text)})
            broken = unescape((await http.get("/admin/audit")).text)
            status = broken.split('id="chain-status"')[1].split("</div>")[0]
            assert "Not whole: an entry was altered, removed or put out of order" in status
            assert f"entry {victim['seq']}" not in status
            assert str(victim["id"]) not in broken
        finally:
            await tamper(web_node, victim["actor"], victim["seq"])
    verified = await owner_rows(
        web_node,
        "SELECT l.actor, l.payload_digest FROM audit_log l JOIN organisations o ON o.id = l.organisation_id"
        " WHERE o.slug = $1 AND l.action = 'audit.verify' ORDER BY l.seq",
        admin.a,
    )
    assert {r["actor"] for r in verified} == {admin.actor(admin.admin)}
    # what the entry keeps (a digest) is of whether the chain was whole, never of the node's counts
    assert [r["payload_digest"] for r in verified] == [
        payload_digest({"whole": True, "witnessed_by": []}),
        payload_digest({"whole": False, "witnessed_by": []}),
    ]


async def test_administration_in_a_browser_in_both_languages(
    web_node: WebNode, admin: Admin, signed_in_page: SignedInPage
) -> None:
    page = await signed_in_page(web_node, admin.admin)
    await page.get_by_role("link", name="Administration").click()
    await expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    await page.get_by_role("link", name="API clients").first.click()
    await page.get_by_role("button", name="Make the client").click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await axe_clean(page, "the client form's mistakes")
    await page.get_by_label("Name").fill("Browser system")
    await page.get_by_label("roster:read").check()
    await page.get_by_role("button", name="Make the client").click()
    await expect(page.locator("#secret")).to_have_text(re.compile(r"^mss_"))
    await axe_clean(page, "a client's secret shown once")
    await page.goto(f"{web_node.base}/admin/clients")
    await expect(page.get_by_text("Browser system")).to_be_visible()
    await expect(page.locator("#secret")).to_have_count(0)
    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_role("button", name="Verify the chain now").click()
    await expect(page.locator("#chain-status")).to_contain_text("Whole")
    await axe_clean(page, "the audit log")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", name="Journal d’audit", level=1)).to_be_visible()
    await page.goto(f"{web_node.base}/admin/people")
    await expect(page.get_by_role("heading", name="Personnes et rôles", level=1)).to_be_visible()
    await axe_clean(page, "the people in French")
    await page.goto(f"{web_node.base}/admin/webhooks")
    await page.get_by_role("button", name="Enregistrer le point d’accès").click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await axe_clean(page, "the webhook form's mistakes in French")
