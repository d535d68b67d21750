"""Overlap cases as pages (/overlaps, /overlaps/{id}): organisations A and B ask for support on one
process in overlapping periods (requests made and submitted through the services), which opens a
case whose parties are A and B; C, party to nothing, sees nothing of it. A party sees exactly what
the API shows its organisation (the other party's request only by number until its owner shares its
description), writes to the other parties and proposes a resolution the other party agrees to.
Over real HTTP against a live msnet signed in through a real OpenID Connect provider (``web_node``,
shared by the module), one flow in a real browser in English and French with axe-core, and the
e-mail of a new case through a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import msgspec
import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import expect

from msnet.db.engine import make_engine, make_sessionmaker
from msnet.directory import schemas as directory_schemas
from msnet.directory import service as directory_service
from msnet.middleware import Metrics
from msnet.outbox.worker import Worker
from msnet.overlaps import schemas, service
from msnet.processes import schemas as process_schemas
from msnet.processes import service as process_service
from msnet.requests import schemas as request_schemas
from msnet.requests import service as request_service
from msnet.web import overlaps
from tests.conftest import free_port
from tests.web.conftest import SignedInPage, Someone, WebNode, sign_in
from tests.web.pages import as_operator, axe_clean, csrf, field_error, owner_rows, signed_in

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_overlaps.py"),
]

CASE_TABLES = ("overlap_cases", "overlap_messages", "overlap_proposals")


@dataclass
class World:
    """A's and B's requests overlap in ``case_id``; C has an office and no part in it."""

    a: Someone
    b: Someone
    c: Someone
    case_id: str
    #: each organisation's request, by slug, and its secret description
    requests: dict[str, str]
    descriptions: dict[str, str]
    offices: dict[str, str]


async def _office(node: WebNode, slug: str) -> str:
    async with as_operator(node, slug) as (session, operator):
        made = await directory_service.create_office(
            session,
            operator,
            msgspec.convert(
                {"name": f"{slug.upper()} Mediation Support Unit"}, directory_schemas.OfficeCreate
            ),
            origin=node.settings.issuer,
        )
        assert isinstance(made, directory_schemas.Office)
        return str(made.id)


async def _request(node: WebNode, slug: str, body: dict[str, Any]) -> str:
    async with as_operator(node, slug) as (session, operator):
        made = await request_service.create_request(
            session,
            operator,
            msgspec.convert(body, request_schemas.RequestCreate),
            origin=node.settings.issuer,
        )
        assert isinstance(made, request_schemas.RequestDetail)
        await request_service.submit_request(session, operator, made.id)
        return str(made.id)


async def overlapping(node: WebNode, orgs: tuple[str, str, str] | None = None) -> World:
    """Three organisations (new ones unless ``orgs``) with a new staff member each; A's and B's
    requests on A's process, each addressed to the other's office, overlap."""
    a, b, c = orgs or [await node.organisation() for _ in range(3)]
    people = [await node.person(slug, ["staff"]) for slug in (a, b, c)]
    offices = {slug: await _office(node, slug) for slug in (a, b, c)}
    async with as_operator(node, a) as (session, operator):
        process = await process_service.create_process(
            session,
            operator,
            msgspec.convert(
                {"name": f"Process {uuid.uuid4().hex[:8]}", "countries": ["CF"]},
                process_schemas.ProcessCreate,
            ),
            origin=node.settings.issuer,
        )
        assert isinstance(process, process_schemas.Process)
    start = date.today() + timedelta(days=30)
    descriptions = {slug: f"Secret plans of {slug} {uuid.uuid4().hex[:8]}" for slug in (a, b)}
    requests = {}
    for slug, other in ((a, b), (b, a)):
        requests[slug] = await _request(
            node,
            slug,
            {
                "process_id": str(process.id),
                "office_id": offices[slug],
                "title": f"Ceasefire design asked by {slug}",
                "description": descriptions[slug],
                "service_types": ["process_design"],
                "themes": ["ceasefire_security"],
                "period": {"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
                "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
                "addressees": [offices[other]],
            },
        )
    async with as_operator(node, a) as (session, operator):
        (case,) = (await service.list_cases(session, operator, status=None, limit=5, cursor=None)).items
    return World(*people, str(case.id), requests, descriptions, offices)


async def case_as(node: WebNode, slug: str, case_id: str) -> schemas.OverlapCase:
    """The case as the API shows it to ``slug``'s clients."""
    async with as_operator(node, slug) as (session, operator):
        return await service.get_case(session, operator, uuid.UUID(case_id))


async def written(node: WebNode, case_id: str) -> tuple[int, int]:
    """How many messages and proposals the case holds (every organisation's)."""
    (row,) = await owner_rows(
        node,
        "SELECT (SELECT count(*) FROM overlap_messages WHERE case_id = $1) AS messages, "
        "(SELECT count(*) FROM overlap_proposals WHERE case_id = $1) AS proposals",
        uuid.UUID(case_id),
        lifted=CASE_TABLES,
    )
    return row["messages"], row["proposals"]


async def alerts(node: WebNode, someone: Someone) -> list[Any]:
    return await owner_rows(
        node,
        "SELECT a.* FROM overlap_alerts a JOIN people p ON p.id = a.person_id WHERE p.subject = $1",
        someone.subject,
        lifted=("overlap_alerts", "people"),
    )


async def test_each_party_sees_what_the_api_discloses_and_another_organisation_nothing(
    web_node: WebNode,
) -> None:
    world = await overlapping(web_node)
    a, b = world.a.slug, world.b.slug
    as_b = await case_as(web_node, b, world.case_id)
    assert [(m.organisation, m.request_id, m.description) for m in as_b.members] == [
        (a, None, None),
        (b, uuid.UUID(world.requests[b]), None),
    ]
    async with signed_in(web_node, world.b) as http:
        listed = await http.get("/overlaps")
        assert listed.status_code == 200
        assert f'id="case-{world.case_id}"' in listed.text
        shown = await http.get(f"/overlaps/{world.case_id}")
        assert shown.status_code == 200
        assert f'href="/requests/{world.requests[b]}"' in shown.text
        assert world.requests[a] not in shown.text
        assert world.descriptions[a] not in shown.text
        assert world.descriptions[b] not in shown.text
        assert "Ceasefire design asked by" not in shown.text  # titles are never shared

    async with signed_in(web_node, world.a) as http:
        token = csrf((await http.get(f"/overlaps/{world.case_id}")).text)
        shared = await http.post(
            f"/overlaps/{world.case_id}/share",
            data={"csrf_token": token, "request_id": world.requests[a], "shared": "1"},
        )
        assert (shared.status_code, shared.headers["location"]) == (
            303,
            f"/overlaps/{world.case_id}?done=shared",
        )
        not_mine = await http.post(
            f"/overlaps/{world.case_id}/share",
            data={"csrf_token": token, "request_id": world.requests[b], "shared": "1"},
        )
        assert not_mine.status_code == 422
        assert field_error(not_mine.text, "request_id") == "is not one of the caller's requests in this case"
    as_b = await case_as(web_node, b, world.case_id)
    assert [m.description for m in as_b.members] == [world.descriptions[a], None]
    async with signed_in(web_node, world.b) as http:
        shown = await http.get(f"/overlaps/{world.case_id}")
        assert world.descriptions[a] in unescape(shown.text)
        assert world.descriptions[b] not in unescape(shown.text)
        assert world.requests[a] not in shown.text

    async with signed_in(web_node, world.c) as http:
        listed = await http.get("/overlaps")
        assert listed.status_code == 200
        assert world.case_id not in listed.text
        assert re.search(r'id="found"[^>]*>0 cases<', listed.text)
        assert (await http.get(f"/overlaps/{world.case_id}")).status_code == 404
        token = csrf(listed.text)
        for path, data in (
            ("messages", {"body": "Let me in"}),
            ("resolution", {"kind": "merge"}),
            ("share", {"request_id": world.requests[a]}),
        ):
            refused = await http.post(f"/overlaps/{world.case_id}/{path}", data={"csrf_token": token, **data})
            assert refused.status_code == 404, path
    assert await written(web_node, world.case_id) == (0, 0)


async def test_a_writes_and_proposes_and_b_agrees(web_node: WebNode) -> None:
    world = await overlapping(web_node)
    async with signed_in(web_node, world.a) as http:
        token = csrf((await http.get(f"/overlaps/{world.case_id}")).text)
        sent = await http.post(
            f"/overlaps/{world.case_id}/messages",
            data={"csrf_token": token, "body": "Could our teams speak this week?"},
        )
        assert sent.status_code == 303
        proposed = await http.post(
            f"/overlaps/{world.case_id}/resolution",
            data={
                "csrf_token": token,
                "kind": "coordinate",
                "lead_office_id": world.offices[world.a.slug],
                "member": "2",  # not kept: a member is named only for a withdrawal
                "note": "",
            },
        )
        assert (proposed.status_code, proposed.headers["location"]) == (
            303,
            f"/overlaps/{world.case_id}?done=proposed",
        )
        shown = await http.get(proposed.headers["location"])
        assert "Your proposal was sent" in shown.text
        assert 'id="agree"' not in shown.text  # A agreed by proposing
    as_a = await case_as(web_node, world.a.slug, world.case_id)
    assert as_a.proposal is not None
    assert (as_a.proposal.kind, as_a.proposal.member, as_a.proposal.awaiting) == (
        "coordinate",
        None,
        [world.b.slug],
    )

    async with signed_in(web_node, world.b) as http:
        shown = await http.get(f"/overlaps/{world.case_id}")
        assert "Could our teams speak this week?" in shown.text
        assert re.search(r'id="awaiting">[^<]*</dd>', shown.text)
        assert 'id="agree"' in shown.text
        listed = await http.get("/overlaps?status=open")
        assert "awaits your agreement" in listed.text
        agreed = await http.post(
            f"/overlaps/{world.case_id}/resolution",
            data={"csrf_token": csrf(shown.text), "agree": str(as_a.proposal.id)},
        )
        assert (agreed.status_code, agreed.headers["location"]) == (
            303,
            f"/overlaps/{world.case_id}?done=resolved",
        )
        resolved = await http.get("/overlaps?status=resolved")
        assert f'id="case-{world.case_id}"' in resolved.text
        assert world.case_id not in (await http.get("/overlaps?status=open")).text
        again = await http.post(
            f"/overlaps/{world.case_id}/messages", data={"csrf_token": csrf(shown.text), "body": "One more"}
        )
        assert again.status_code == 409
        assert "the case is resolved; it takes no more messages" in again.text
    as_b = await case_as(web_node, world.b.slug, world.case_id)
    assert as_b.status == "resolved"
    assert as_b.resolution is not None
    assert (as_b.resolution.kind, as_b.resolution.lead_office_id) == (
        "coordinate",
        uuid.UUID(world.offices[world.a.slug]),
    )
    assert await written(web_node, world.case_id) == (1, 1)


async def test_a_post_without_its_csrf_token_is_refused(web_node: WebNode) -> None:
    world = await overlapping(web_node)
    async with signed_in(web_node, world.a) as http:
        for path, data in (
            ("messages", {"body": "Forged"}),
            ("resolution", {"kind": "merge"}),
            ("share", {"request_id": world.requests[world.a.slug], "shared": "1"}),
        ):
            refused = await http.post(f"/overlaps/{world.case_id}/{path}", data=data)
            forged = await http.post(
                f"/overlaps/{world.case_id}/{path}", data={**data, "csrf_token": "0" * 64}
            )
            assert (refused.status_code, forged.status_code) == (403, 403), path
        assert (await http.post("/overlaps/alert", data={"notify": "1"})).status_code == 403
    assert await written(web_node, world.case_id) == (0, 0)
    assert [m.shared for m in (await case_as(web_node, world.a.slug, world.case_id)).members] == [
        False,
        False,
    ]
    assert await alerts(web_node, world.a) == []


async def test_bad_input_is_named_beside_its_fields_and_nothing_is_written(web_node: WebNode) -> None:
    world = await overlapping(web_node)
    path = f"/overlaps/{world.case_id}"
    async with signed_in(web_node, world.a) as http:
        token = csrf((await http.get(path)).text)

        async def post(action: str, **data: str) -> str:
            answer = await http.post(f"{path}/{action}", data={"csrf_token": token, **data})
            assert answer.status_code == 422, (action, data, answer.text)
            return answer.text

        page = await post("messages", body="   ")
        assert field_error(page, "body") == "Expected `str` of length >= 1"
        page = await post("messages", body="x" * 4001)
        assert field_error(page, "body") == "Expected `str` of length <= 4000"
        assert "x" * 4001 in page  # what was entered is kept
        page = await post("resolution", note="")
        assert field_error(page, "kind") == "propose a resolution (kind), or agree to one (agree)"
        page = await post("resolution", kind="coordinate", note="")
        assert field_error(page, "lead_office_id") == "name the office that leads"
        page = await post(
            "resolution", kind="coordinate", lead_office_id=world.offices[world.c.slug], note=""
        )
        assert field_error(page, "lead_office_id") == "is not an office of a party to this case"
        page = await post("resolution", kind="complementary", note=" ")
        assert field_error(page, "note") == "say each one's scope"
        page = await post("resolution", kind="withdraw", member="9", note="")
        assert field_error(page, "member") == "the case has no member 9"
        page = await post("resolution", kind="surrender", note="")
        assert field_error(page, "kind") == "Invalid enum value 'surrender'"
        page = await post("resolution", agree="not-a-proposal")
        assert field_error(page, "agree") == "Invalid UUID"
        stranger = str(uuid.uuid4())
        page = await post("resolution", agree=stranger)
        assert field_error(page, "agree") == f"no proposal {stranger} in this case"
        page = await post("share", request_id="nothing", shared="1")
        assert field_error(page, "request_id") == "Invalid UUID"
        listed = await http.get("/overlaps?status=lost&cursor=" + "x" * 600)
        assert listed.status_code == 422
        assert "Status: is not one of the choices" in listed.text
        assert "Page: is not a page of this search" in listed.text
    assert await written(web_node, world.case_id) == (0, 0)


async def test_settling_a_case_in_a_browser_in_both_languages(
    web_node: WebNode, signed_in_page: SignedInPage
) -> None:
    world = await overlapping(web_node)
    page = await signed_in_page(web_node, world.a)
    await page.get_by_role("link", name="Overlap cases").click()
    await expect(page.get_by_role("heading", name="Overlap cases", level=1)).to_be_visible()
    await axe_clean(page, "the overlap cases")
    await page.locator(f"#case-{world.case_id}").click()
    await expect(page).to_have_url(f"{web_node.base}/overlaps/{world.case_id}")
    await page.get_by_label("Your message").fill("Shall we divide the work?")
    await page.get_by_role("button", name="Send to the other parties").click()
    await expect(page.locator("#done")).to_have_text("Your message was sent to the other parties.")
    await page.get_by_label("Complementary: each proceeds within its own scope").check()
    await page.get_by_label("Note").fill("A designs, B monitors.")
    await page.get_by_role("button", name="Send the proposal").click()
    await expect(page.locator("#awaiting")).to_have_text(re.compile(world.b.slug, re.I))
    await axe_clean(page, "an overlap case with a proposal")
    await page.get_by_role("button", name="Send the proposal").click()
    await expect(page.locator("#kind-error")).to_be_visible()
    await axe_clean(page, "an overlap case with mistakes")
    await page.get_by_role("link", name="Back to the overlap cases").click()
    await page.locator(f"#case-{world.case_id}").click()
    await page.get_by_role("link", name="Français").click()
    await expect(
        page.get_by_role("heading", name=re.compile("^Cas de chevauchement"), level=1)
    ).to_be_visible()
    await axe_clean(page, "an overlap case in French")
    await page.get_by_role("link", name="Retour aux cas de chevauchement").click()
    await expect(page.get_by_role("heading", name="Cas de chevauchement", level=1)).to_be_visible()
    await axe_clean(page, "the overlap cases in French")
    await page.get_by_label(
        "M’écrire quand mon organisation devient partie à un nouveau cas de chevauchement"
    ).check()
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#alert-notice")).to_be_visible()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


async def test_a_person_who_asked_is_emailed_a_new_case_once(web_node: WebNode) -> None:
    a, b, c = [await web_node.organisation() for _ in range(3)]
    asking, bystander, stopped = [await web_node.person(slug, ["staff"]) for slug in (a, c, a)]
    for someone, language in ((asking, "fr"), (bystander, "en"), (stopped, "en")):
        async with signed_in(web_node, someone) as http:
            await http.get(f"/language/{language}")
            token = csrf((await http.get("/overlaps")).text)
            saved = await http.post("/overlaps/alert", data={"csrf_token": token, "notify": "1"})
            assert (saved.status_code, saved.headers["location"]) == (303, "/overlaps?alert=on")
            assert 'type="checkbox" value="1" checked' in (await http.get("/overlaps")).text
            if someone is stopped:
                await http.post("/overlaps/alert", data={"csrf_token": token})
    assert [len(await alerts(web_node, s)) for s in (asking, bystander, stopped)] == [1, 1, 0]
    world = await overlapping(web_node, (a, b, c))

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
        assert await overlaps.send_due(sessionmaker, mailing) == 0  # the case may still be being written
        later = datetime.now(UTC) + overlaps.SETTLE + timedelta(seconds=1)
        assert await overlaps.send_due(sessionmaker, mailing, now=later) == 1
        assert await overlaps.send_due(sessionmaker, mailing, now=later + timedelta(minutes=5)) == 0  # once
        worker = Worker(sessionmaker, mailing, Metrics())
        try:
            await worker.run_once()
        finally:
            await worker.close()
    finally:
        controller.stop()
        await engine.dispose()

    assert [m.rcpt_tos for m in mailbox.messages] == [[asking.email]]
    mail = email.message_from_bytes(mailbox.messages[0].original_content, policy=email.policy.default)
    assert mail["Subject"] == "msnet : votre organisation est partie à 1 nouveau cas de chevauchement"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{web_node.base}/overlaps/{world.case_id}" in text
    assert world.descriptions[world.b.slug] not in text


async def test_the_services_messages_beside_the_fields_are_in_the_readers_language(web_node: WebNode) -> None:
    world = await overlapping(web_node)
    path = f"/overlaps/{world.case_id}"
    async with signed_in(web_node, world.a) as http:
        await http.get("/language/fr")
        token = csrf((await http.get(path)).text)
        long = await http.post(f"{path}/messages", data={"csrf_token": token, "body": "x" * 4001})
        assert field_error(long.text, "body") == "au plus 4000 caractères ou éléments (`str`)"
        missing = await http.post(
            f"{path}/resolution", data={"csrf_token": token, "kind": "withdraw", "member": "9", "note": ""}
        )
        assert field_error(missing.text, "member") == "le cas n’a pas de demande 9"
        lead = await http.post(
            f"{path}/resolution", data={"csrf_token": token, "kind": "coordinate", "note": ""}
        )
        assert field_error(lead.text, "lead_office_id") == "indiquez le bureau qui mène"
    assert await written(web_node, world.case_id) == (0, 0)


def seconds_left(window: int) -> float:
    return window - time.time() % window


async def test_failed_sign_ins_from_one_address_are_refused_until_the_interval_ends(
    web_node: WebNode,
) -> None:
    """From an address of its own (127.0.0.2: the module's other tests sign in from 127.0.0.1), past
    the limit of failed sign-ins an interval the callback answers 429 with Retry-After and a page
    saying to wait; a valid sign-in from that address still passes."""
    slug = await web_node.organisation()
    someone = await web_node.person(slug, ["staff"])
    window, limit = web_node.settings.auth_failure_window, web_node.settings.auth_failure_limit
    if seconds_left(window) < window / 3:  # the failures all fall in one interval: the next one
        await asyncio.sleep(seconds_left(window))
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=web_node.base, transport=transport) as http:
        callback = f"/auth/{slug}/callback?code=forged&state=forged"
        for _ in range(limit):
            assert (await http.get(callback)).status_code == 400
        refused = await http.get(callback, headers={"Accept-Language": "fr"})
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= window
        assert "Trop de connexions depuis votre adresse ont échoué" in unescape(refused.text)
        assert "msnet_session" not in refused.headers.get("set-cookie", "")
        assert (await sign_in(http, web_node, someone)).headers["location"] == "/"
    entries = await owner_rows(
        web_node,
        "SELECT e.action, e.outcome, e.resource_id, e.source FROM audit_log e "
        "JOIN organisations o ON o.id = e.organisation_id "
        "WHERE o.slug = $1 AND e.action IN ('auth.failed', 'person.sign_in') ORDER BY e.seq",
        slug,
        lifted=("audit_log",),
    )
    denied = [e for e in entries if (e["action"], e["outcome"]) == ("person.sign_in", "denied")]
    assert len(denied) == limit  # the refused attempt is not audited alone: its interval's count is
    (failed,) = [e for e in entries if e["action"] == "auth.failed"]
    assert (failed["resource_id"].split()[:2], failed["source"]) == (
        ["count=1", "reason=sign_in"],
        "127.0.0.2",
    )
