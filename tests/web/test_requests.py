"""The requests' pages (/requests, /requests/new, /requests/{id}, /inbox, and what the home page says
of them) over real HTTP against a live msnet signed in through a real OpenID Connect provider
(``web_node``, shared by the module): asking, answering, accepting, the lifecycle's actions, errors
beside the fields with nothing written, a form sent twice making one record, two people acting on
the same request, a session that ended mid-form, roles, and another organisation seeing nothing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest
import pytest_asyncio

from msnet.directory import schemas as directory_schemas
from msnet.directory import service as directory
from msnet.processes import schemas as process_schemas
from msnet.processes import service as processes
from msnet.requests import schemas as request_schemas
from msnet.requests import service as requests
from msnet.roster import schemas as roster_schemas
from msnet.roster import service as roster
from tests.web import pages
from tests.web.conftest import Someone, WebNode, authorize_at_provider, sign_in
from tests.web.pages import as_operator, csrf, field_error, made_through, signed_in

#: One worker runs the module: its tests share the live node (``web_node``).
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_requests.py"),
]

owner_rows = partial(
    pages.owner_rows, lifted=("requests", "request_responses", "request_events", "audit_log")
)
START = date.today() + timedelta(days=40)


@dataclass
class Network:
    a: str
    b: str
    c: str
    a_staff: Someone
    a_colleague: Someone
    a_roster: Someone
    b_staff: Someone
    c_staff: Someone
    a_office: str
    b_office: str
    process: str
    b_expert: str


async def make_network(web_node: WebNode) -> Network:
    """Three new organisations, each with an office offering process design in Mali; a process
    (C's); an expert on B's roster; people of A (two staff, a roster manager), B and C."""
    a, b, c = [await web_node.organisation() for _ in range(3)]
    offices = {}
    for slug in (a, b, c):
        async with as_operator(web_node, slug) as (session, operator):
            office = await directory.create_office(
                session,
                operator,
                msgspec.convert({"name": f"{slug} Mediation Support Unit"}, directory_schemas.OfficeCreate),
                origin=web_node.settings.issuer,
            )
            assert isinstance(office, directory_schemas.Office)
            await directory.create_capacity(
                session,
                operator,
                office.id,
                msgspec.convert(
                    {
                        "service_type": "process_design",
                        "languages": ["fr"],
                        "countries": ["ML"],
                        "lead_time_days": 7,
                    },
                    directory_schemas.CapacityCreate,
                ),
                origin=web_node.settings.issuer,
            )
            offices[slug] = str(office.id)
    [process] = await made_through(
        web_node,
        c,
        processes.create_process,
        process_schemas.ProcessCreate,
        process_schemas.Process,
        [{"name": "Inner Niger delta local dialogue", "countries": ["ML"], "level": "local"}],
    )
    [expert] = await made_through(
        web_node,
        b,
        roster.create_expert,
        roster_schemas.ExpertCreate,
        roster_schemas.Expert,
        [
            {
                "name": "Awa Traoré",
                "expertise": [{"kind": "service_type", "term": "process_design"}],
                "languages": [{"code": "fr"}],
                "availability": [{"start": str(START), "end": str(START + timedelta(days=90))}],
            }
        ],
    )
    return Network(
        a,
        b,
        c,
        await web_node.person(a, name="Amina Diallo"),
        await web_node.person(a, name="Jean Dupont"),
        await web_node.person(a, roles=["roster_manager"]),
        await web_node.person(b, name="Bintou Keita"),
        await web_node.person(c),
        offices[a],
        offices[b],
        process,
        expert,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def net(web_node: WebNode) -> Network:
    return await make_network(web_node)


def ask(net: Network, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "process_id": net.process,
        "office_id": net.a_office,
        "title": f"Process design for the delta {uuid.uuid4().hex[:6]}",
        "description": "Options for the local dialogue's design.",
        "service_types": ["process_design"],
        "themes": ["local_mediation"],
        "start": str(START),
        "end": str(START + timedelta(days=60)),
        "languages": "fr",
        "urgency": "routine",
        "mandate_type": "organisation_decision",
        "mandate_reference": "",
        "route": "named",
        "sharing": "private",
        "form_key": uuid.uuid4().hex,
    }
    form.update(changes)
    return form


async def page_of(http: httpx.AsyncClient, path: str, status: int = 200) -> str:
    answer = await http.get(path)
    assert answer.status_code == status, answer.text
    return answer.text


async def send(http: httpx.AsyncClient, path: str, form: dict[str, Any], token: str) -> httpx.Response:
    return await http.post(path, data={**form, "csrf_token": token})


def seen(html: str) -> dict[str, str]:
    """The hidden fields an action form carries (the version the page showed)."""
    return {
        name: unescape(re.search(rf'name="{name}" value="([^"]*)"', html).group(1))  # type: ignore[union-attr]
        for name in ("version", "seen_state", "seen_at")
    }


async def drafted(http: httpx.AsyncClient, net: Network, **changes: Any) -> str:
    form_page = await page_of(http, "/requests/new")
    answer = await send(http, "/requests/new", ask(net, **changes), csrf(form_page))
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


async def submitted(http: httpx.AsyncClient, net: Network, **changes: Any) -> str:
    path = await drafted(http, net, **changes)
    html = await page_of(http, path)
    answer = await send(http, f"{path}/submit", {**seen(html), "addressees": [net.b_office]}, csrf(html))
    assert answer.status_code == 303, answer.text
    return path


def state_on(html: str) -> str:
    return re.search(r'<strong id="state">([^<]*)</strong>', html).group(1)  # type: ignore[union-attr]


async def count(node: WebNode, query: str, *args: Any) -> int:
    return (await owner_rows(node, query, *args))[0]["n"]


async def test_asking_answering_and_accepting_with_the_person_in_the_audit_log(
    web_node: WebNode, net: Network
) -> None:
    async with signed_in(web_node, net.a_staff) as a, signed_in(web_node, net.b_staff) as b:
        found = await page_of(a, "/requests/new?process_q=delta")
        assert f'value="{net.process}"' in found  # the registry's search offers the process
        form = ask(net)
        token = csrf(found)
        first = await send(a, "/requests/new", form, token)
        again = await send(a, "/requests/new", form, token)  # the same form sent twice
        assert first.status_code == again.status_code == 303
        path = first.headers["location"]
        assert again.headers["location"] == path
        assert (
            await count(web_node, "SELECT count(*) AS n FROM requests WHERE title = $1", form["title"]) == 1
        )
        draft = await page_of(a, path)
        assert state_on(draft) == "Draft"
        assert f'value="{net.b_office}"' in draft  # B's office among the matches, to be ticked
        assert "Service type (30)" in draft  # with its reasons
        assert "Awa Traoré" in draft  # and B's expert
        submitted_page = await send(
            a, f"{path}/submit", {**seen(draft), "addressees": [net.b_office]}, csrf(draft)
        )
        assert submitted_page.status_code == 303
        assert state_on(await page_of(a, path)) == "Submitted"

        inbox = await page_of(b, "/inbox")
        assert form["title"] in inbox
        assert " ago" in inbox
        assert "Not yet" in inbox
        home_b = await page_of(b, "/")
        assert re.search(r'id="home-inbox">1 request awaits your answer<', home_b)
        to_answer = await page_of(b, path)
        assert "Answer this request" in to_answer
        assert "Awa Traoré" in to_answer
        key = re.search(r'name="form_key" value="([^"]+)"', to_answer).group(1)  # type: ignore[union-attr]
        offer = {
            **seen(to_answer),
            "form_key": key,
            "office_id": net.b_office,
            "kind": "offer",
            "experts": [net.b_expert],
            "start": str(START),
            "end": str(START + timedelta(days=30)),
            "note": "One process design adviser, francophone.",
        }
        assert (await send(b, f"{path}/answer", offer, csrf(to_answer))).status_code == 303
        assert (
            await send(b, f"{path}/answer", offer, csrf(to_answer))
        ).status_code == 303  # twice: one answer
        assert (
            await count(
                web_node,
                "SELECT count(*) AS n FROM request_responses WHERE request_id = $1",
                uuid.UUID(path.rsplit("/", 1)[1]),
            )
            == 1
        )
        assert "Sent" in await page_of(b, "/inbox")

        offers = await page_of(a, path)
        assert "The offers side by side" in offers
        assert "Awa Traoré" in offers
        assert "francophone" in offers
        response_id = re.search(r"/offers/([0-9a-f-]+)/accept", offers).group(1)  # type: ignore[union-attr]
        accepted = await send(a, f"{path}/offers/{response_id}/accept", seen(offers), csrf(offers))
        assert accepted.status_code == 303
        done = await page_of(a, path)
        assert state_on(done) == "Offer accepted"
        timeline = re.search(r'<ol class="timeline">(.*?)</ol>', done, re.S).group(1)  # type: ignore[union-attr]
        assert [unescape(s) for s in re.findall(r"→ ([^(<]+?) \(", timeline)] == [
            "Submitted",
            "Answered",
            "Offer accepted",
        ]
        assert "Start the work" in done
        assert "Put on hold" not in done
    actors = await owner_rows(
        web_node,
        "SELECT action, actor FROM audit_log WHERE resource_id = $1 ORDER BY id",
        path.rsplit("/", 1)[1],
    )
    issuer = web_node.issuers["a"]
    assert [(r["action"], r["actor"]) for r in actors] == [
        ("request.create", f"person:{issuer}#{net.a_staff.subject}"),
        ("request.update", f"person:{issuer}#{net.a_staff.subject}"),
        ("request.submit", f"person:{issuer}#{net.a_staff.subject}"),
    ]


async def test_a_bad_form_names_every_field_beside_it_and_writes_nothing(
    web_node: WebNode, net: Network
) -> None:
    async with signed_in(web_node, net.a_staff) as a:
        before = await count(web_node, "SELECT count(*) AS n FROM requests")
        token = csrf(await page_of(a, "/requests/new"))
        bad = ask(
            net,
            process_id="",
            office_id="",
            title="",
            service_types=[],
            start="someday",
            end="2020-01-01",
            urgency="whenever",
        )
        answer = await send(a, "/requests/new", bad, token)
        assert answer.status_code == 422
        for name, message in [
            ("process_id", "choose a process, or register one below"),
            ("office_id", "choose one of your offices"),
            ("title", "is required"),
            ("service_types", "choose at least one"),
            ("start", "is not a date (YYYY-MM-DD)"),
            ("urgency", "is not one of the choices"),
        ]:
            assert field_error(answer.text, name) == message, name
        assert f'<textarea id="description" name="description" rows="4">{bad["description"]}' in unescape(
            answer.text
        )  # what was typed is kept
        # what only the services know: an unknown language and theme, an office of another organisation
        checked = await send(
            a,
            "/requests/new",
            ask(net, office_id=net.b_office, languages="zz", themes=["no_such_theme"]),
            token,
        )
        assert checked.status_code == 422
        assert field_error(checked.text, "office_id") == "is not an office of the caller's organisation"
        assert "'zz' is not a language" in field_error(checked.text, "languages")
        assert "no_such_theme" in field_error(checked.text, "themes")
        # a new process registered with the request: its own mistakes beside its fields
        registering = await send(
            a,
            "/requests/new",
            ask(net, process_id="", new_process_name="Delta", new_process_countries="QQ"),
            token,
        )
        assert registering.status_code == 422
        assert field_error(registering.text, "new_process_countries") != ""
        shapeless = await send(
            a,
            "/requests/new",
            ask(net, process_id="", new_process_name="Delta", new_process_countries="QQQ", languages="f1"),
            token,
        )
        assert shapeless.status_code == 422
        assert field_error(shapeless.text, "languages") == "is not written as expected"
        assert field_error(shapeless.text, "new_process_countries") == "is not written as expected"
        assert await count(web_node, "SELECT count(*) AS n FROM requests") == before
        assert await count(web_node, "SELECT count(*) AS n FROM processes WHERE name = 'Delta'") == 0
        fr = await a.get("/language/fr")
        assert fr.status_code == 303
        french = await send(a, "/requests/new", ask(net, title=""), token)
        assert field_error(french.text, "title") == "est obligatoire"
        await a.get("/language/en")


async def test_registering_a_process_with_the_request(web_node: WebNode, net: Network) -> None:
    async with signed_in(web_node, net.a_staff) as a:
        name = f"Kidal water-sharing talks {uuid.uuid4().hex[:6]}"
        path = await drafted(a, net, process_id="", new_process_name=name, new_process_countries="ml")
        html = await page_of(a, path)
        assert name in html
        assert (
            await count(
                web_node, "SELECT count(*) AS n FROM processes WHERE name = $1 AND countries = '{ML}'", name
            )
            == 1
        )


async def test_the_lifecycle_offers_only_what_the_state_allows(web_node: WebNode, net: Network) -> None:
    async with signed_in(web_node, net.a_staff) as a:
        path = await submitted(a, net)
        html = await page_of(a, path)
        assert {"hold", "withdraw"} <= set(re.findall(r'<button type="submit" id="(\w+)"', html))
        assert 'id="start"' not in html
        assert 'id="resume"' not in html
        assert 'id="close"' not in html
        # an action the state does not allow is refused, showing the request as it is
        refused = await send(a, f"{path}/start", seen(html), csrf(html))
        assert refused.status_code == 409
        assert state_on(refused.text) == "Submitted"
        assert (await send(a, f"{path}/hold", seen(html), csrf(html))).status_code == 303
        held = await page_of(a, path)
        assert state_on(held) == "On hold"
        assert 'id="resume"' in held
        assert 'id="hold"' not in held
        assert (await send(a, f"{path}/resume", seen(held), csrf(held))).status_code == 303
        resumed = await page_of(a, path)
        assert state_on(resumed) == "Submitted"
        assert (await send(a, f"{path}/withdraw", seen(resumed), csrf(resumed))).status_code == 303
        assert state_on(await page_of(a, path)) == "Withdrawn"
        assert (
            '<form method="post"' not in (await page_of(a, path)).split("<main", 1)[1]
        )  # nothing left to do


async def test_closing_needs_its_outcome(web_node: WebNode, net: Network) -> None:
    async with signed_in(web_node, net.a_staff) as a, signed_in(web_node, net.b_staff) as b:
        path = await submitted(a, net)
        html = await page_of(b, path)
        decline = {
            **seen(html),
            "form_key": uuid.uuid4().hex,
            "office_id": net.b_office,
            "kind": "decline",
            "reason": "",
        }
        crowded = {**decline, "kind": "offer", "experts": [str(uuid.uuid4()) for _ in range(21)]}
        too_many = await send(b, f"{path}/answer", crowded, csrf(html))
        assert too_many.status_code == 422
        assert field_error(too_many.text, "experts") == "propose at most 20 experts"
        refused = await send(b, f"{path}/answer", decline, csrf(html))
        assert refused.status_code == 422
        assert field_error(refused.text, "reason") == "say why the office declines"
        assert (
            await send(b, f"{path}/answer", {**decline, "reason": "No capacity in that period."}, csrf(html))
        ).status_code == 303
        rejected = await page_of(a, path)
        assert state_on(rejected) == "Declined by every office"
        assert "No capacity in that period." in rejected
        bad = await send(a, f"{path}/close", {**seen(rejected), "delivered": "no"}, csrf(rejected))
        assert bad.status_code == 422
        assert field_error(bad.text, "reason") == "say why the support was not delivered"
        assert state_on(bad.text) == "Declined by every office"
        closed = await send(
            a,
            f"{path}/close",
            {**seen(rejected), "delivered": "no", "reason": "Nobody free."},
            csrf(rejected),
        )
        assert closed.status_code == 303
        assert state_on(await page_of(a, path)) == "Completed"


async def test_two_people_acting_on_one_request(web_node: WebNode, net: Network) -> None:
    async with signed_in(web_node, net.a_staff) as amina, signed_in(web_node, net.a_colleague) as jean:
        path = await submitted(amina, net)
        hers, his = await page_of(amina, path), await page_of(jean, path)
        assert (await send(amina, f"{path}/hold", seen(hers), csrf(hers))).status_code == 303
        again = await send(amina, f"{path}/hold", seen(hers), csrf(hers))  # her form sent twice: one effect
        assert again.status_code == 303
        request_id = uuid.UUID(path.rsplit("/", 1)[1])
        holds = "SELECT count(*) AS n FROM request_events WHERE request_id = $1 AND to_state = 'on-hold'"
        assert await count(web_node, holds, request_id) == 1
        late = await send(jean, f"{path}/withdraw", seen(his), csrf(his))  # his page showed it submitted
        assert late.status_code == 409
        assert "Someone else changed this request while you were looking at it" in late.text
        assert "It was Submitted; it is now On hold." in late.text
        assert state_on(late.text) == "On hold"
        assert 'id="resume"' in late.text  # what it allows now
        assert state_on(await page_of(jean, path)) == "On hold"  # nothing withdrawn


async def ended_mid_form(
    http: httpx.AsyncClient, web_node: WebNode, someone: Someone, form: dict[str, Any]
) -> httpx.Response:
    """``form`` sent by ``someone`` (signed in on ``http``) once their session has ended: refused."""
    token = csrf(await page_of(http, "/requests/new"))
    await web_node.sql(
        "UPDATE web_sessions SET expires_at = now() - interval '1 minute' "
        "WHERE person_id IN (SELECT id FROM people WHERE subject = $1)",
        someone.subject,
    )
    ended = await send(http, "/requests/new", form, token)
    assert ended.status_code == 403
    assert "Sign in again: the form then opens holding what you had typed." in ended.text
    return ended


async def signed_in_again(
    http: httpx.AsyncClient, web_node: WebNode, ended: httpx.Response, someone: Someone
) -> tuple[str, list[str]]:
    """``someone`` signs in through the ended page's link: where the browser lands, and the ``next``
    of every sign-in kept meanwhile."""
    login = urlsplit(unescape(re.search(r'href="([^"]+)" id="sign-in-again"', ended.text).group(1)))  # type: ignore[union-attr]
    assert login.path == "/login"
    next_path = parse_qs(login.query)["next"][0]
    begun = await http.get(f"/login/{someone.slug}", params={"next": next_path})
    kept_nexts = [row["next_path"] for row in await web_node.sql("SELECT next_path FROM web_signins")]
    callback = await authorize_at_provider(http, begun.headers["location"], someone.subject)
    done = await http.get(callback)
    assert done.headers["location"] == next_path
    return next_path, kept_nexts


async def test_a_session_that_ended_mid_form_keeps_the_input(web_node: WebNode, net: Network) -> None:
    addresses: list[str] = []  # every address asked for, sent to (Location) or referred from

    async def note(response: httpx.Response) -> None:
        addresses.extend(
            [
                str(response.request.url),
                response.headers.get("location", ""),
                response.request.headers.get("referer", ""),
            ]
        )

    async with httpx.AsyncClient(base_url=web_node.base, event_hooks={"response": [note]}) as http:
        await sign_in(http, web_node, net.a_staff)
        form = ask(
            net, title="Kept across the sign-in zqtitle", description="Typed before the session ended zqtext."
        )
        ended = await ended_mid_form(http, web_node, net.a_staff, form)
        assert (
            await count(web_node, "SELECT count(*) AS n FROM requests WHERE title = $1", form["title"]) == 0
        )
        next_path, kept_nexts = await signed_in_again(http, web_node, ended, net.a_staff)
        assert next_path == "/requests/new?kept=1"
        again = await page_of(http, next_path)
        assert "what you had typed is below" in again
        assert 'value="Kept across the sign-in zqtitle"' in again
        assert "Typed before the session ended zqtext." in again
        assert 'value="process_design" checked' in again
        assert kept_nexts
        assert addresses
        for typed in ("zqtitle", "zqtext", "process_design"):  # in no address, however encoded
            assert not [a for a in addresses + kept_nexts if typed in a]
        assert "could not be kept" in await page_of(http, next_path)  # shown once: the cookie cleared
        assert (
            await count(web_node, "SELECT count(*) AS n FROM requests WHERE title = $1", form["title"]) == 0
        )


async def test_kept_input_fits_its_cookie_stays_in_its_organisation_and_is_not_forged(
    web_node: WebNode, net: Network
) -> None:
    async with httpx.AsyncClient(base_url=web_node.base) as http:
        await sign_in(http, web_node, net.a_staff)
        form = ask(net, title="Kept but for its description", description="Long enough. " * 300)
        ended = await ended_mid_form(http, web_node, net.a_staff, form)
        assert "These fields were too long to keep: type them again." in ended.text
        assert "<li>What is needed</li>" in ended.text
        next_path, _ = await signed_in_again(http, web_node, ended, net.a_staff)
        again = await page_of(http, next_path)
        assert 'value="Kept but for its description"' in again
        assert "<li>What is needed</li>" in again
        assert "Long enough." not in again

        ended = await ended_mid_form(http, web_node, net.a_staff, ask(net, title="Kept for A only"))
        await signed_in_again(http, web_node, ended, net.c_staff)  # another organisation, same browser
        other = await page_of(http, next_path)
        assert "could not be kept" in other
        assert "Kept for A only" not in other

        await sign_in(http, web_node, net.a_staff)
        ended = await ended_mid_form(http, web_node, net.a_staff, ask(net, title="Kept, then forged"))
        [cookie] = [c for c in http.cookies.jar if c.name == "msnet_kept_request"]
        assert cookie.path == "/requests/new"
        assert cookie.has_nonstandard_attr("HttpOnly")
        cookie.value = cookie.value[:60] + ("A" if cookie.value[60] != "A" else "B") + cookie.value[61:]
        await signed_in_again(http, web_node, ended, net.a_staff)
        forged = await page_of(http, next_path)
        assert "could not be kept" in forged
        assert "Kept, then forged" not in forged


async def test_another_organisation_sees_nothing_and_roles_decide(web_node: WebNode, net: Network) -> None:
    async with signed_in(web_node, net.a_staff) as a:
        draft_path = await drafted(a, net)
        sent_path = await submitted(a, net)
        token_a = csrf(await page_of(a, sent_path))
    async with signed_in(web_node, net.c_staff) as c:
        for path in (draft_path, sent_path):
            await page_of(c, path, 404)
        home = await page_of(c, "/")
        token = csrf(home)
        for action in ("submit", "hold", "withdraw", "close", "answer"):
            refused = await send(c, f"{sent_path}/{action}", {"version": "1"}, token)
            assert refused.status_code == 404, action
        listed = await page_of(c, "/requests")
        assert draft_path not in listed
        assert sent_path not in listed
        assert "0 requests" in listed
        inbox = await page_of(c, "/inbox")
        assert sent_path not in inbox
        assert re.search(r'id="home-inbox">0 requests await your answer<', home)
        assert re.search(r'id="home-requests">0 open requests of your organisation<', home)
    async with signed_in(web_node, net.b_staff) as b:
        await page_of(b, draft_path, 404)  # a draft is not sent yet
        html = await page_of(b, sent_path)
        assert "Who can help: the matches" not in html
        assert "Put on hold" not in html
        assert (await send(b, f"{sent_path}/hold", seen(html), csrf(html))).status_code == 403
        assert sent_path in await page_of(b, "/requests?role=addressee")
    async with signed_in(web_node, net.a_roster) as r:  # a roster manager reads, but does not ask
        await page_of(r, "/requests/new", 403)
        assert sent_path in await page_of(r, "/requests")
    async with signed_in(web_node, net.a_staff) as a:
        listed = await page_of(a, "/requests?role=requester&state=submitted")
        assert sent_path in listed
        assert draft_path not in listed
        assert (await a.get("/requests?state=nonsense")).status_code == 422
        no_token = await a.post(f"{sent_path}/hold", data={"version": "1"})
        assert no_token.status_code == 403
        assert token_a


async def test_the_list_pages_by_keyset(web_node: WebNode, net: Network) -> None:
    slug = await web_node.organisation()
    someone = await web_node.person(slug)
    async with as_operator(web_node, slug) as (session, operator):
        office = await directory.create_office(
            session,
            operator,
            msgspec.convert({"name": "Pager office"}, directory_schemas.OfficeCreate),
            origin="t",
        )
        assert isinstance(office, directory_schemas.Office)
        for i in range(23):
            body = ask(net, office_id=str(office.id), title=f"Paged request {i:02d}")
            made = await requests.create_request(
                session,
                operator,
                msgspec.convert(
                    {
                        "process_id": net.process,
                        "office_id": str(office.id),
                        "title": body["title"],
                        "service_types": ["process_design"],
                        "period": {"start": body["start"], "end": body["end"]},
                        "mandate": {"type": "other"},
                    },
                    request_schemas.RequestCreate,
                ),
                origin="t",
            )
            assert isinstance(made, request_schemas.RequestDetail)
    async with signed_in(web_node, someone) as http:
        first = await page_of(http, "/requests")
        assert "23 requests" in first
        titles = re.findall(r">Paged request (\d\d)<", first)
        assert len(titles) == 20
        next_url = unescape(re.search(r'href="([^"]+)" id="next-page"', first).group(1))  # type: ignore[union-attr]
        second = await page_of(http, next_url)
        rest = re.findall(r">Paged request (\d\d)<", second)
        assert sorted(titles + rest) == [f"{i:02d}" for i in range(23)]
        assert 'id="next-page"' not in second
        assert 'id="first-page"' in second
        home = await page_of(http, "/")
        assert re.search(r'id="home-requests">23 open requests of your organisation<', home)
        assert 'href="/requests?role=requester&amp;state=draft">Draft: 23<' in home


async def test_the_registry_search_shows_merged_duplicates_under_the_process(
    web_node: WebNode, net: Network
) -> None:
    [duplicate] = await made_through(
        web_node,
        net.c,
        processes.create_process,
        process_schemas.ProcessCreate,
        process_schemas.Process,
        [{"name": "Delta local dialogue (duplicate)", "countries": ["ML"]}],
    )
    async with as_operator(web_node, net.c) as (session, operator):
        await processes.merge_process(
            session,
            operator,
            uuid.UUID(duplicate),
            process_schemas.ProcessMerge(into=uuid.UUID(net.process)),
            None,
        )
    async with signed_in(web_node, net.a_staff) as a:
        found = await page_of(a, "/requests/new?process_q=delta")
        assert f'value="{net.process}"' in found
        assert f'value="{duplicate}"' not in found
        typed = ask(net, process_id="", process_q="delta", title="Typed before searching", find="1")
        searched = await send(a, "/requests/new", typed, csrf(found))  # "Find processes" in the form
        assert searched.status_code == 200
        assert f'value="{net.process}"' in searched.text
        assert 'value="Typed before searching"' in searched.text
        assert (
            await count(web_node, "SELECT count(*) AS n FROM requests WHERE title = $1", typed["title"]) == 0
        )
        assert "1 duplicate merged into it" in found
        # a request naming the duplicate is made on the process it was merged into
        path = await drafted(a, net, process_id=duplicate)
        assert "Inner Niger delta local dialogue" in await page_of(a, path)


async def test_the_home_page_counts_the_capacities_to_confirm(web_node: WebNode, net: Network) -> None:
    await web_node.sql(
        "UPDATE capacities SET last_confirmed_at = now() - interval '200 days' WHERE office_id = $1",
        uuid.UUID(net.a_office),
    )
    async with signed_in(web_node, net.a_roster) as manager:
        home = await page_of(manager, "/")
        assert re.search(r'id="home-stale">1 capacity to confirm<', home)
        assert f'href="/directory/offices/{net.a_office}"' in home
    async with signed_in(web_node, net.a_staff) as staff:  # staff confirm nothing: not shown
        assert 'id="home-stale"' not in await page_of(staff, "/")
    async with signed_in(web_node, net.b_staff) as other:
        assert 'id="home-stale"' not in await page_of(other, "/")
