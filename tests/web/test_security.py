"""The staff pages' security, over real HTTP against a live msnet and two real OpenID Connect
providers: OpenID Connect mix-up and replay, session fixation and lifetime, CSRF, cookies, headers,
redirects, and what a page shows to a person of another organisation."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from litestar import Response
from litestar.routes import HTTPRoute

from msnet.app import create_app
from msnet.web import oidc, sessions
from msnet.web.pages import local_path
from msnet.web.security import CSP
from tests.web.conftest import Someone, WebNode, authorize_at_provider, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

REFUSED = "The sign-in did not succeed"


async def begin(http: httpx.AsyncClient, node: WebNode, slug: str) -> str:
    """Begin a sign-in for ``slug``: the provider's authorization URL it redirects to."""
    begun = await http.get(f"{node.base}/login/{slug}")
    assert begun.status_code == 303
    return begun.headers["location"]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query(url), **changes})))


def session_cookie(http: httpx.AsyncClient) -> str | None:
    return http.cookies.get("msnet_session", domain="127.0.0.1")


async def refused(http: httpx.AsyncClient, url: str) -> None:
    """The callback ``url`` signs no one in: 400, the login page saying so, no session."""
    answer = await http.get(url)
    assert answer.status_code == 400, answer.text
    assert REFUSED in answer.text
    assert "msnet_session" not in answer.headers.get("set-cookie", "")


async def two_organisations(node: WebNode) -> tuple[Someone, Someone]:
    """A person of an organisation signing in through provider a, and one of another through b."""
    first = await node.organisation("a")
    second = await node.organisation("b")
    return await node.person(first, ["staff"]), await node.person(second, ["staff"])


async def test_the_authorization_request_carries_pkce_state_and_nonce(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    async with httpx.AsyncClient() as http:
        url = await begin(http, signin_node, slug)
    params = query(url)
    assert url.startswith(signin_node.issuers["a"] + "/oauth2/authorize?")
    assert params["client_id"] == f"msnet-{slug}"
    assert params["redirect_uri"] == f"{signin_node.base}/auth/{slug}/callback"
    assert params["response_type"] == "code"
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    assert params["code_challenge_method"] == "S256"
    [kept] = await signin_node.sql(
        "SELECT code_verifier, nonce FROM web_signins WHERE state_hash = $1",
        hashlib.sha256(params["state"].encode()).hexdigest(),
    )
    challenge = base64.urlsafe_b64encode(hashlib.sha256(kept["code_verifier"].encode()).digest()).rstrip(b"=")
    assert params["code_challenge"] == challenge.decode()
    assert params["nonce"] == kept["nonce"]
    assert len(params["state"]) >= 40
    assert len(params["nonce"]) >= 40


async def test_a_state_begun_for_another_organisation_is_refused(signin_node: WebNode) -> None:
    """Organisation B's state (and code) brought to organisation A's callback signs no one in."""
    someone_a, someone_b = await two_organisations(signin_node)
    async with httpx.AsyncClient() as http:
        callback_b = await authorize_at_provider(
            http, await begin(http, signin_node, someone_b.slug), someone_b.subject
        )
        mixed = with_query(f"{signin_node.base}/auth/{someone_a.slug}/callback", **query(callback_b))
        await refused(http, mixed)
        await refused(http, callback_b)  # and the sign-in it belonged to is used up


async def test_a_callback_of_organisation_a_answered_by_b_s_provider_is_refused(signin_node: WebNode) -> None:
    """The person authorizes at provider b with the request meant for provider a: a's callback
    exchanges the code at a's token endpoint, which never issued it."""
    someone_a, someone_b = await two_organisations(signin_node)
    async with httpx.AsyncClient() as http:
        meant_for_a = await begin(http, signin_node, someone_a.slug)
        at_b = signin_node.issuers["b"] + meant_for_a.removeprefix(signin_node.issuers["a"])
        callback = await authorize_at_provider(http, at_b, someone_b.subject)
        assert callback.startswith(f"{signin_node.base}/auth/{someone_a.slug}/callback")
        await refused(http, callback)


async def test_a_callback_naming_another_issuer_is_refused(signin_node: WebNode) -> None:
    slug = await signin_node.organisation("a")
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        callback = await authorize_at_provider(http, await begin(http, signin_node, slug), someone.subject)
        await refused(http, with_query(callback, iss=signin_node.issuers["b"]))


async def test_a_replayed_callback_signs_no_one_in(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        callback = await authorize_at_provider(http, await begin(http, signin_node, slug), someone.subject)
        first = await http.get(callback)
        assert first.status_code == 303
    async with httpx.AsyncClient() as http:
        await refused(http, callback)  # another browser
    async with httpx.AsyncClient(cookies={"msnet_signin": "guessed"}) as http:
        await refused(http, callback)


async def test_a_reused_code_with_a_fresh_state_is_refused_by_the_provider(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        callback = await authorize_at_provider(http, await begin(http, signin_node, slug), someone.subject)
        assert (await http.get(callback)).status_code == 303
        fresh_state = query(await begin(http, signin_node, slug))["state"]
        await refused(http, with_query(callback, state=fresh_state))


async def test_an_id_token_with_another_nonce_is_refused(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        url = await begin(http, signin_node, slug)
        callback = await authorize_at_provider(http, with_query(url, nonce=uuid.uuid4().hex), someone.subject)
        await refused(http, callback)


async def test_a_callback_without_the_browser_that_began_it_is_refused(signin_node: WebNode) -> None:
    """Login CSRF: an attacker's own callback, sent to someone else's browser, signs no one in."""
    slug = await signin_node.organisation()
    attacker = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        callback = await authorize_at_provider(http, await begin(http, signin_node, slug), attacker.subject)
    async with httpx.AsyncClient() as victim:
        await refused(victim, callback)


async def test_a_denied_authorization_and_a_bad_callback_are_refused(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    async with httpx.AsyncClient() as http:
        url = await begin(http, signin_node, slug)
        denied = await http.post(url, data={"action": "deny"})
        assert denied.status_code == 302
        assert query(denied.headers["location"])["error"] == "access_denied"
        await refused(http, denied.headers["location"])
        await refused(http, f"{signin_node.base}/auth/{slug}/callback")
        await refused(http, f"{signin_node.base}/auth/{slug}/callback?state=nothing&code=nothing")
        unknown = await http.get(f"{signin_node.base}/auth/no-such-org/callback?state=x&code=y")
        assert unknown.status_code == 404


async def test_refused_sign_ins_are_in_the_organisation_s_audit_log(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    async with httpx.AsyncClient() as http:
        await refused(http, f"{signin_node.base}/auth/{slug}/callback?state=forged&code=forged")
    rows = await signin_node.sql(
        "SELECT a.outcome, a.actor, a.resource_id FROM audit_log a JOIN organisations o ON o.id = a.organisation_id "
        "WHERE o.slug = $1 AND a.action = 'person.sign_in'",
        slug,
    )
    assert [(r["outcome"], r["actor"], r["resource_id"]) for r in rows] == [("denied", "anonymous", slug)]


async def test_the_session_id_rotates_at_sign_in_and_a_planted_one_is_never_signed_in(
    signin_node: WebNode,
) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    planted = "planted-by-an-attacker"
    async with httpx.AsyncClient() as http:
        http.cookies.set("msnet_session", planted, domain="127.0.0.1", path="/")
        await sign_in(http, signin_node, someone)
        first = session_cookie(http)
        assert first not in (None, planted)
        await sign_in(http, signin_node, someone)
        second = session_cookie(http)
        assert second not in (None, first)
    async with httpx.AsyncClient(cookies={"msnet_session": first}) as old:  # the earlier session ended
        assert (await old.get(f"{signin_node.base}/")).status_code == 303
    async with httpx.AsyncClient(cookies={"msnet_session": planted}) as attacker:
        assert (await attacker.get(f"{signin_node.base}/")).status_code == 303
    tokens = {r["token_hash"] for r in await signin_node.sql("SELECT token_hash FROM web_sessions")}
    assert sessions.hash_token(second) in tokens
    assert second not in tokens  # only hashes are kept


async def test_the_session_cookie_s_flags(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        done = await sign_in(http, signin_node, someone)
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("msnet_session="))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP on a loopback address (development) only
    assert "domain" not in attributes


async def test_outside_loopback_the_cookie_is_secure_and_host_only(signin_node: WebNode) -> None:
    public = replace(signin_node.settings, public_url="https://msnet.example.org")
    response = Response(content=b"")
    sessions.set_cookie(response, public, "token")
    text = response.cookies[0].to_encoded_header()[1].decode()
    assert text.startswith("__Host-msnet_session=token")
    assert "Secure" in text
    assert "HttpOnly" in text
    assert "Path=/" in text
    assert "Domain" not in text
    assert sessions.secure(replace(signin_node.settings, public_url="http://msnet.example.org"))


async def test_sign_out_ends_the_session_on_the_server(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        token = session_cookie(http)
        home = await http.get(f"{signin_node.base}/")
        csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
        out = await http.post(f"{signin_node.base}/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
        assert (
            'msnet_session=""' in out.headers["set-cookie"] or "msnet_session=;" in out.headers["set-cookie"]
        )
    async with httpx.AsyncClient(cookies={"msnet_session": token}) as replay:
        answer = await replay.get(f"{signin_node.base}/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/"
    assert (
        await signin_node.sql("SELECT 1 FROM web_sessions WHERE token_hash = $1", sessions.hash_token(token))
        == []
    )


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
async def test_an_idle_or_expired_session_has_ended(signin_node: WebNode, column: str) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        assert (await http.get(f"{signin_node.base}/")).status_code == 200
        back = "interval '121 minutes'" if column == "last_seen_at" else "interval '1 second'"
        await signin_node.sql(
            f"UPDATE web_sessions SET {column} = now() - {back} WHERE token_hash = $1",
            sessions.hash_token(session_cookie(http)),
        )
        assert (await http.get(f"{signin_node.base}/")).status_code == 303
    assert (
        await signin_node.sql(
            "SELECT 1 FROM web_sessions WHERE token_hash = $1", sessions.hash_token(session_cookie(http))
        )
        == []
    )


async def test_a_session_in_use_is_noted_at_most_once_a_minute_and_goes_on(signin_node: WebNode) -> None:
    """A page of a session last noted over a minute ago notes it again, in the page's own transaction
    acting for the person's organisation (row-level security checks the row written), and answers."""
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug)
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        digest = sessions.hash_token(session_cookie(http))
        await signin_node.sql(
            "UPDATE web_sessions SET last_seen_at = now() - interval '5 minutes' WHERE token_hash = $1",
            digest,
        )
        assert (await http.get(f"{signin_node.base}/")).status_code == 200
        [noted] = await signin_node.sql(
            "SELECT now() - last_seen_at < interval '1 minute' AS recent FROM web_sessions WHERE token_hash = $1",
            digest,
        )
        assert noted["recent"]
        assert (await http.get(f"{signin_node.base}/roster")).status_code == 200


async def test_every_post_needs_the_session_s_csrf_token_from_this_site(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    admin = await signin_node.person(slug, ["org_admin"])
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, admin)
        page = await http.get(f"{signin_node.base}/admin/idp")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {
            "issuer": signin_node.issuers["b"],
            "client_id": "changed",
            "email_domains": "",
            "role_claim": "",
        }
        for data, headers in [
            (form, {}),
            ({**form, "csrf_token": "0" * 64}, {}),
            ({**form, "csrf_token": token}, {"Origin": "https://evil.example"}),
            ({**form, "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
        ]:
            answer = await http.post(f"{signin_node.base}/admin/idp", data=data, headers=headers)
            assert answer.status_code == 403, (data, headers)
        [row] = await signin_node.sql(
            "SELECT i.client_id FROM identity_providers i JOIN organisations o ON o.id = i.organisation_id "
            "WHERE o.slug = $1",
            slug,
        )
        assert row["client_id"] == f"msnet-{slug}"  # nothing written
        out = await http.post(f"{signin_node.base}/logout")
        assert out.status_code == 403
        assert (await http.get(f"{signin_node.base}/")).status_code == 200  # still signed in
        saved = await http.post(
            f"{signin_node.base}/admin/idp",
            data={**form, "csrf_token": token},
            headers={"Origin": signin_node.base},
        )
        assert saved.status_code == 200
        assert "The identity provider was saved." in saved.text
        htmx = await http.post(f"{signin_node.base}/logout", headers={"X-CSRF-Token": token})
        assert htmx.status_code == 303
    async with httpx.AsyncClient() as anonymous:
        assert (
            await anonymous.post(f"{signin_node.base}/logout", data={"csrf_token": token})
        ).status_code == 403


async def test_the_security_headers_of_pages_errors_and_static_files(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug, [])
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, someone)
        answers = [
            await http.get(f"{signin_node.base}/login"),
            await http.get(f"{signin_node.base}/"),
            await http.get(f"{signin_node.base}/admin/idp"),  # 403: no role
            await http.get(f"{signin_node.base}/static/msnet.css"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 403, 200]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP
    for page in answers[:3]:
        assert "<script>" not in page.text
        assert " style=" not in page.text
        assert " on" + "click=" not in page.text
        assert "no-store" in page.headers["cache-control"]


async def test_pages_redirect_only_within_this_site() -> None:
    for value in [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "evil",
        "/ok\r\nSet-Cookie: x=1",
    ]:
        assert local_path(value) == "/"
    assert local_path("/roster?q=a") == "/roster?q=a"


async def test_the_language_switch_and_login_keep_to_this_site(signin_node: WebNode) -> None:
    slug = await signin_node.organisation()
    async with httpx.AsyncClient() as http:
        switched = await http.get(f"{signin_node.base}/language/fr", params={"next": "https://evil.example/"})
        assert switched.status_code == 303
        assert switched.headers["location"] == "/"
        bad = await http.get(f"{signin_node.base}/language/de")
        assert bad.status_code == 422
        login = await http.get(f"{signin_node.base}/login", params={"next": "//evil.example"})
        links = re.findall(r'href="(/login/[^"]*)"', login.text)
        assert f"/login/{slug}?next=/" in links
        assert all(link.endswith("?next=/") for link in links)


async def test_every_page_but_the_sign_in_ones_needs_a_session(signin_node: WebNode) -> None:
    """Generated from the route table, so that a page added later is checked too: without a session a
    page sends the browser to /login (htmx gets 401 and HX-Redirect), and a POST is refused."""
    public = {
        "/login",
        "/login/{slug}",
        "/auth/{slug}/callback",
        "/language/{language}",
        "/static/{file_path}",
    }
    checked = []
    async with httpx.AsyncClient() as http:
        for route in create_app(signin_node.settings).routes:
            assert isinstance(route, HTTPRoute)
            for handler in route.route_handlers:
                if not handler.opt.get("page"):
                    continue
                path = re.sub(r"{\w+:\w+}", lambda _: str(uuid.uuid4()), route.path)
                shown = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
                if shown in public:
                    continue
                for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                    checked.append(f"{method} {shown}")
                    answer = await http.request(method, f"{signin_node.base}{path}")
                    if method == "GET":
                        assert answer.status_code == 303, (method, shown, answer.status_code)
                        assert answer.headers["location"] == "/login?next=" + path
                        htmx = await http.get(f"{signin_node.base}{path}", headers={"HX-Request": "true"})
                        assert htmx.status_code == 401
                        assert htmx.headers["hx-redirect"] == "/login?next=" + path
                    else:
                        assert answer.status_code == 403, (method, shown, answer.status_code)
    assert {"GET /", "POST /logout", "GET /admin/idp", "POST /admin/idp"} <= set(checked)


async def test_a_person_sees_their_own_organisation_s_provider_only(signin_node: WebNode) -> None:
    first = await signin_node.organisation("a")
    second = await signin_node.organisation("b")
    admin = await signin_node.person(first, ["org_admin"])
    async with httpx.AsyncClient() as http:
        await sign_in(http, signin_node, admin)
        page = await http.get(f"{signin_node.base}/admin/idp")
        home = await http.get(f"{signin_node.base}/")
    assert f"msnet-{first}" in page.text
    assert signin_node.issuers["a"] in page.text
    assert f"msnet-{second}" not in page.text
    assert signin_node.issuers["b"] not in page.text
    assert f"Organisation {first.upper()}" in home.text
    assert second not in home.text


async def test_a_provider_on_a_private_address_is_never_called_unless_allowed(signin_node: WebNode) -> None:
    """What an organisation registers must not make the node call into its own network: each URL of
    the provider is resolved and refused when any address is not a public one."""
    issuer = signin_node.issuers["a"]
    for url in (issuer, issuer.replace("127.0.0.1", "localhost"), "http://10.1.2.3/", "http://[::1]:9/"):
        with pytest.raises(oidc.SignInError, match="loopback, private or reserved"):
            await oidc.Providers().metadata(oidc.Client(url, "msnet", "secret"))
    with pytest.raises(oidc.SignInError, match="not an http"):
        await oidc.check_reachable("file:///etc/passwd", private_addresses=True)
    allowed = await oidc.Providers().metadata(oidc.Client(issuer, "msnet", "secret", private_addresses=True))
    assert allowed["issuer"] == issuer


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_a_browser_gets_an_error_page_where_no_page_answers_and_other_clients_a_problem(
    signin_node: WebNode,
) -> None:
    """An unknown address, or a method a page does not take, answers a browser with an error page in
    its language (status kept, the pages' headers); a JSON client, and every client of the API,
    federation, OAuth and discovery paths, with a problem document."""
    async with httpx.AsyncClient(base_url=signin_node.base) as http:
        missing = await http.get("/no-such-page", headers={"Accept": BROWSER, "Accept-Language": "fr"})
        assert (missing.status_code, missing.headers["content-type"]) == (404, "text/html; charset=utf-8")
        assert "<h1>Erreur 404</h1>" in missing.text
        assert missing.headers["content-security-policy"] == CSP
        assert "no-store" in missing.headers["cache-control"]
        wrong = await http.get(f"/overlaps/{uuid.uuid4()}/resolution", headers={"Accept": BROWSER})
        assert (wrong.status_code, wrong.headers["content-type"]) == (405, "text/html; charset=utf-8")
        assert "<h1>Error 405</h1>" in wrong.text
        assert "POST" in wrong.headers["allow"]
        for path, accept in (
            ("/no-such-page", "application/json"),
            ("/no-such-page", "*/*"),
            ("/v1/no-such-thing", BROWSER),
            ("/federation/v1/no-such-thing", BROWSER),
            ("/oauth/no-such-thing", BROWSER),
            ("/.well-known/no-such-thing", BROWSER),
        ):
            answer = await http.get(path, headers={"Accept": accept})
            assert (answer.status_code, answer.headers["content-type"]) == (
                404,
                "application/problem+json",
            ), path
            assert answer.json()["status"] == 404
