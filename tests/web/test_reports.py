"""The reports' pages: an organisation's track record (/reports, its CSV), the network's picture
(/reports/network), an office's quarter (/reports/quarter, its PDF), the lessons library (/lessons)
and publishing a lesson to the network. Figures are checked against counts worked out by hand from
requests made straight in the node's database (tests/reports/conftest.py's Builder), never against
the code's own output; a person of another organisation never sees them. Over real HTTP against a
live msnet signed in through a real OpenID Connect provider, and one walk through a real Chromium
with axe-core in both languages."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from html import unescape

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from playwright.async_api import expect
from pypdf import PdfReader

from msnet.db.engine import make_engine, make_sessionmaker
from msnet.middleware import Metrics
from msnet.outbox.worker import Worker
from msnet.web import quarterly
from tests.conftest import free_port
from tests.helpers import org_ids
from tests.reports.conftest import Builder, at
from tests.web import pages
from tests.web.conftest import SignedInPage, Someone, WebNode, sign_in
from tests.web.pages import axe_clean, csrf, signed_in

#: One worker runs the module: its tests share the live node (``web_node``) and the requests on it.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.xdist_group("tests/web/test_reports.py"),
]

owner_rows = partial(pages.owner_rows, lifted=("publications", "report_mailings"))
THE_PERIOD = "from=2026-01-01&to=2026-06-30"


@dataclass
class Network:
    a: str
    b: str
    c: str
    a_staff: Someone
    b_staff: Someone
    c_staff: Someone
    a_office: str
    requests: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def network(web_node: WebNode) -> Network:
    """A asks B twice in 2026's first quarter (one delivered, one not) and once in the second (B
    declines); B asks A once (delivered) and C five times; C asks B six times. Every request is on
    the theme DDR."""
    a, b, c = [await web_node.organisation() for _ in range(3)]
    conn = await asyncpg.connect(web_node.settings.database_admin_url)
    try:
        builder = Builder(conn, await org_ids(conn))
        a_office = await builder.office(a, "A headquarters")
        await builder.office(b, "B office")
        await builder.office(c, "C office")
        mali = await builder.process(a, "Mali dialogue", ["western_africa"], ["ML"])
        ddr = {"themes": ["ddr"]}
        r1 = await builder.request(
            "A headquarters",
            mali,
            at("2026-01-10T00:00:00"),
            ["B office"],
            state="completed",
            outcome={"delivered": True, "reason": "", "note": "Agree the working languages early."},
            closed=at("2026-02-20T00:00:00"),
            title="Design of the Mopti talks",
            **ddr,
        )
        await builder.respond(r1, a, "B office", at("2026-01-10T10:00:00"), experts=2, status="accepted")
        await builder.event(r1, a, "accepted", at("2026-01-11T06:00:00"))  # 30 h
        r2 = await builder.request(
            "A headquarters",
            mali,
            at("2026-02-05T00:00:00"),
            ["B office"],
            state="completed",
            outcome={
                "delivered": False,
                "reason": "the talks were suspended",
                "note": "Keep a channel open when the talks stall.",
            },
            closed=at("2026-03-01T00:00:00"),
            title="Support to the Gao consultations",
            **ddr,
        )
        r3 = await builder.request("A headquarters", mali, at("2026-04-02T00:00:00"), ["B office"], **ddr)
        await builder.respond(r3, a, "B office", at("2026-04-02T04:00:00"), kind="decline")
        r4 = await builder.request(
            "B office",
            mali,
            at("2026-01-20T00:00:00"),
            ["A headquarters"],
            state="completed",
            outcome={"delivered": True, "reason": "", "note": "Brief the envoy before each round."},
            closed=at("2026-03-10T00:00:00"),
            title="Advice on the Kidal ceasefire",
            **ddr,
        )
        await builder.respond(
            r4, b, "A headquarters", at("2026-01-20T02:00:00"), experts=1, status="accepted"
        )
        await builder.event(r4, b, "accepted", at("2026-01-22T02:00:00"))  # 50 h
        for n in range(5):
            await builder.request("B office", mali, at(f"2026-03-0{n + 1}T00:00:00"), ["C office"], **ddr)
        for n in range(6):
            await builder.request("C office", mali, at(f"2026-02-1{n}T00:00:00"), ["B office"], **ddr)
    finally:
        await conn.close()
    await web_node.sql("SELECT msnet_report_refresh(1000000)")
    return Network(
        a,
        b,
        c,
        await web_node.person(a, ["staff"], name="Ama Staff"),
        await web_node.person(b, ["staff"], name="Ben Staff"),
        await web_node.person(c, ["staff"], name="Cy Staff"),
        str(a_office),
        {"r1": str(r1), "r2": str(r2), "r3": str(r3), "r4": str(r4)},
    )


def html_table(html: str, table_id: str) -> list[list[str]]:
    """A table's cells, row by row (headings first), as text."""
    body = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert body, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [[unescape(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def number(text: str) -> float | None:
    """A figure as a page shows it (English or French), or None for '–'."""
    if text in ("–", ""):
        return None
    return float(re.sub(r"[\s\u202f\xa0]", "", text).replace(",", "."))


def by_group(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    headings = rows[0]
    return {r[0]: dict(zip(headings[1:], r[1:], strict=True)) for r in rows[1:]}


async def test_the_track_record_shows_the_figures_worked_out_by_hand_and_its_csv_is_the_table(
    web_node: WebNode, network: Network
) -> None:
    async with signed_in(web_node, network.a_staff) as http:
        answer = await http.get(f"/reports?{THE_PERIOD}&group_by=quarter")
        assert answer.status_code == 200
        shown = by_group(html_table(answer.text, "track-record"))
        # By hand: Q1 asked R1 (offer, 2 experts, accepted after 30 h, first answer after 10 h,
        # delivered) and R2 (no answer, not delivered); Q2 R3 (declined); no trainings.
        assert {
            k: number(v) for k, v in shown["2026-Q1"].items() if k != "Reasons given for not delivering"
        } == {
            "Requests": 2,
            "Offers": 1,
            "Offers accepted": 1,
            "Declines": 0,
            "Delivered": 1,
            "Not delivered": 1,
            "Experts deployed": 2,
            "First response, median (hours)": 10,
            "First response, 90th percentile (hours)": 10,
            "Acceptance, median (hours)": 30,
            "Acceptance, 90th percentile (hours)": 30,
            "Trainings given": 0,
        }
        assert shown["2026-Q1"]["Reasons given for not delivering"] == "the talks were suspended"
        assert number(shown["2026-Q2"]["Requests"]) == 1
        assert number(shown["2026-Q2"]["Declines"]) == 1
        assert [
            number(shown["Total"][k]) for k in ("Requests", "Delivered", "Not delivered", "Declines")
        ] == [
            3,
            1,
            1,
            1,
        ]
        received = by_group(
            html_table((await http.get(f"/reports?{THE_PERIOD}&side=received")).text, "track-record")
        )
        # By hand: A was asked R4 only, answered after 2 h with one expert, accepted after 50 h, delivered.
        assert [
            number(received["Total"][k]) for k in ("Requests", "Offers", "Delivered", "Experts deployed")
        ] == [
            1,
            1,
            1,
            1,
        ]
        assert number(received["Total"]["First response, median (hours)"]) == 2

        export = re.search(r'id="export"[^>]*href="([^"]+)"', answer.text) or re.search(
            r'href="([^"]+)"[^>]*id="export"', answer.text
        )
        assert export
        csv_answer = await http.get(unescape(export.group(1)))
        assert csv_answer.status_code == 200
        assert csv_answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(csv_answer.text)))
        table = html_table(answer.text, "track-record")
        assert rows[0] == table[0]
        assert [r[0] for r in rows] == [r[0] for r in table]
        for got, seen in zip(rows[1:], table[1:], strict=True):
            assert [number(v) if v else None for v in got[1:-1]] == [number(v) for v in seen[1:-1]]
            assert got[-1] == seen[-1]

        by_theme = by_group(
            html_table((await http.get(f"/reports?{THE_PERIOD}&group_by=theme")).text, "track-record")
        )
        assert list(by_theme) == ["Disarmament, demobilisation and reintegration", "Total"]
        assert number(by_theme["Disarmament, demobilisation and reintegration"]["Requests"]) == 3


async def test_each_chart_is_an_svg_beside_a_table_of_its_numbers(
    web_node: WebNode, network: Network
) -> None:
    async with signed_in(web_node, network.a_staff) as http:
        html = (await http.get(f"/reports?{THE_PERIOD}")).text
    images = re.findall(r'<img id="chart-(\d)" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert [n for n, _ in images] == ["1", "2"]
    svg = base64.b64decode(images[0][1]).decode()
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "http://" not in re.sub(r'xmlns(:\w+)?="[^"]+"|<!--.*?-->', "", svg, flags=re.S)
    requests = by_group(html_table(html, "chart-1-data"))
    # By hand: A asked 2 in Q1 and 1 in Q2, and was asked R4 in Q1.
    assert {q: [number(v) for v in row.values()] for q, row in requests.items()} == {
        "2026-Q1": [2, 1],
        "2026-Q2": [1, 0],
    }
    # the chart writes each value on its bar, series by series: the table's columns
    written = re.findall(r'<text[^>]*class="value[^"]*"[^>]*>([^<]*)<', svg)
    columns = list(zip(*(row.values() for row in requests.values()), strict=True))
    assert [number(v) for v in written] == [number(v) for column in columns for v in column]


async def test_the_pages_in_french(web_node: WebNode, network: Network) -> None:
    async with httpx.AsyncClient(base_url=web_node.base) as http:
        await sign_in(http, web_node, network.a_staff)
        await http.get("/language/fr", params={"next": "/"})
        html = (await http.get(f"/reports?{THE_PERIOD}")).text
        assert '<html lang="fr">' in html
        table = html_table(html, "track-record")
        assert table[0][:3] == ["Trimestre", "Demandes", "Offres"]
        assert "Demandes par trimestre" in html
        lessons = (await http.get("/lessons")).text
        assert "Leçons" in lessons
        network_page = (await http.get("/reports/network?from=2026-Q1&to=2026-Q2")).text
        assert "Le réseau" in network_page


async def test_the_network_shows_only_cells_under_the_rule(web_node: WebNode, network: Network) -> None:
    async with signed_in(web_node, network.c_staff) as http:
        answer = await http.get("/reports/network?dimension=theme&from=2026-Q1&to=2026-Q2")
        assert answer.status_code == 200
    totals = {row[0]: row[1:] for row in html_table(answer.text, "network-totals")}
    # By hand: 14 requests in Q1 (A 2, B 6, C 6), 8 of them from organisations other than the largest
    # asker; offers on R1 and R4, both accepted and delivered; R2 not delivered.
    assert [number(v) for v in totals["2026-Q1"][:5]] == [14, 2, 2, 2, 1]
    # Q2: A's R3 alone, fewer than 5 from others: not shown.
    assert totals["2026-Q2"] == ["Not shown: too few requests"]
    by_theme = by_group(html_table(answer.text, "chart-2-data"))
    assert {k: [number(v) for v in row.values()] for k, row in by_theme.items()} == {
        "2026-Q1": [14],
        "2026-Q2": [None],
    }


async def test_a_quarters_report_printable_and_as_a_pdf(web_node: WebNode, network: Network) -> None:
    r1, r4 = network.requests["r1"], network.requests["r4"]
    async with signed_in(web_node, network.a_staff) as http:
        page = await http.get(f"/reports/quarter?quarter=2026-Q1&office_id={network.a_office}&include={r1}")
        assert page.status_code == 200
        offered = re.findall(r'name="include" value="([^"]+)"', page.text)
        assert sorted(offered) == sorted([r1, r4])  # delivered in the quarter, asked or answered
        figures = by_group(html_table(page.text, "key-figures-table"))
        assert [number(v) for v in figures["Requests"].values()] == [2, 1]
        assert [number(v) for v in figures["Delivered"].values()] == [1, 1]
        assert (
            re.findall(r"<li>([^<(]+) \(", page.text.split('id="chosen"')[1])[0]
            == "Design of the Mopti talks"
        )
        pdf = await http.get(
            f"/reports/quarter.pdf?quarter=2026-Q1&office_id={network.a_office}&include={r1}"
        )
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"Organisation {network.a.upper()}" in text
    assert "A headquarters" in text
    assert "Track record, 2026-Q1" in text
    assert re.search(r"Requests\s*2\s*1", text), text
    assert re.search(r"Experts deployed\s*2\s*1", text), text
    assert "Design of the Mopti talks" in text
    assert "Advice on the Kidal ceasefire" not in text  # not chosen


async def test_lessons_follow_the_requests_sharing_and_one_is_published_to_the_network(
    web_node: WebNode, network: Network
) -> None:
    r1, r2, r4 = network.requests["r1"], network.requests["r2"], network.requests["r4"]

    def lessons(html: str) -> list[str]:
        return re.findall(r'<li id="lesson-([0-9a-f-]{36})">', html)

    async with signed_in(web_node, network.a_staff) as http:
        everything = await http.get("/lessons")
        assert sorted(lessons(everything.text)) == sorted([r1, r2, r4])  # its own, and one it was asked
        assert lessons((await http.get("/lessons?q=channel")).text) == [r2]
        assert sorted(lessons((await http.get("/lessons?region=western_africa&theme=ddr")).text)) == sorted(
            [r1, r2, r4]
        )
        assert lessons((await http.get("/lessons?theme=gender_inclusion")).text) == []
        # only its own lessons carry the form
        assert sorted(re.findall(r'action="/lessons/([0-9a-f-]{36})/publish"', everything.text)) == sorted(
            [r1, r2]
        )
        token = csrf(everything.text)
        assert (await http.post(f"/lessons/{r4}/publish", data={"csrf_token": token})).status_code == 404
        for _ in range(2):
            published = await http.post(f"/lessons/{r1}/publish", data={"csrf_token": token})
            assert published.status_code == 303
    rows = await owner_rows(
        web_node,
        "SELECT p.title, p.summary, p.sharing, p.themes, o.slug FROM publications p "
        "JOIN organisations o ON o.id = p.organisation_id WHERE p.url LIKE $1",
        f"%{r1}",
    )
    assert [dict(r) for r in rows] == [
        {
            "title": "Lesson: Design of the Mopti talks",
            "summary": "Agree the working languages early.",
            "sharing": "network",
            "themes": ["ddr"],
            "slug": network.a,
        }
    ]
    assert not await owner_rows(web_node, "SELECT 1 FROM publications p WHERE p.url LIKE $1", f"%{r4}")


async def test_another_organisation_sees_none_of_it(web_node: WebNode, network: Network) -> None:
    async with signed_in(web_node, network.c_staff) as http:
        mine = by_group(html_table((await http.get(f"/reports?{THE_PERIOD}")).text, "track-record"))
        # By hand: C asked 6 in Q1 and was asked B's 5; nothing of A's requests.
        assert number(mine["Total"]["Requests"]) == 6
        received = by_group(
            html_table((await http.get(f"/reports?{THE_PERIOD}&side=received")).text, "track-record")
        )
        assert number(received["Total"]["Requests"]) == 5
        lessons = await http.get("/lessons")
        assert "lesson-" not in lessons.text
        for words in ("working languages", "channel open", "Brief the envoy"):
            assert words not in lessons.text
        assert (await http.get(f"/reports?office_id={network.a_office}")).status_code == 422
        quarter = await http.get(f"/reports/quarter?quarter=2026-Q1&office_id={network.a_office}")
        assert quarter.status_code == 422
        assert "Mopti" not in quarter.text
        pdf = await http.get(f"/reports/quarter.pdf?quarter=2026-Q1&office_id={network.a_office}")
        assert pdf.status_code == 422
        own_quarter = await http.get(f"/reports/quarter?quarter=2026-Q1&include={network.requests['r1']}")
        assert "Mopti" not in own_quarter.text
        token = csrf(lessons.text)
        refused = await http.post(f"/lessons/{network.requests['r2']}/publish", data={"csrf_token": token})
        assert refused.status_code == 404
    assert not await owner_rows(
        web_node, "SELECT 1 FROM publications p WHERE p.url LIKE $1", f"%{network.requests['r2']}"
    )


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[object] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope)
        return "250 OK"


async def ask_for_the_email(
    node: WebNode, someone: Someone, language: str, wanted: str = "1"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.base) as http:
        await sign_in(http, node, someone)
        await http.get(f"/language/{language}", params={"next": "/"})
        form = await http.get("/reports/mailing")
        assert form.status_code == 200
        return await http.post("/reports/mailing", data={"csrf_token": csrf(form.text), "wanted": wanted})


def plain_text(message: object) -> tuple[str, str]:
    mail = email.message_from_bytes(message.original_content, policy=email.policy.default)  # type: ignore[attr-defined]
    return mail["Subject"], mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_the_quarters_report_is_emailed_once_a_quarter_to_the_administrators_who_asked(
    web_node: WebNode, network: Network
) -> None:
    admin = await web_node.person(network.a, ["org_admin"])
    quiet = await web_node.person(network.a, ["org_admin"])
    c_admin = await web_node.person(network.c, ["org_admin"])
    async with signed_in(web_node, network.a_staff) as http:
        assert (await http.get("/reports/mailing")).status_code == 403  # for administrators only
    assert (await ask_for_the_email(web_node, admin, "fr", wanted="maybe")).status_code == 422
    assert not await owner_rows(web_node, "SELECT 1 FROM report_mailings")
    assert (await ask_for_the_email(web_node, admin, "fr")).status_code == 200
    assert (await ask_for_the_email(web_node, c_admin, "en")).status_code == 200
    assert (await ask_for_the_email(web_node, quiet, "en")).status_code == 200
    assert (await ask_for_the_email(web_node, quiet, "en", wanted="0")).status_code == 200

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
        april = datetime(2026, 4, 15, tzinfo=UTC)  # 2026-Q1 has ended
        assert await quarterly.send_due(sessionmaker, mailing, now=april) == 2
        assert await quarterly.send_due(sessionmaker, mailing, now=april) == 0
        assert await quarterly.send_due(sessionmaker, mailing, now=datetime(2026, 6, 30, tzinfo=UTC)) == 0
        worker = Worker(sessionmaker, mailing, Metrics())
        try:
            await worker.run_once()
        finally:
            await worker.close()
        first_quarter = list(mailbox.messages)
        assert await quarterly.send_due(sessionmaker, mailing, now=datetime(2026, 7, 1, tzinfo=UTC)) == 2
    finally:
        controller.stop()
        await engine.dispose()

    assert sorted(m.rcpt_tos[0] for m in first_quarter) == sorted([admin.email, c_admin.email])  # type: ignore[attr-defined]
    (to_a,) = [plain_text(m) for m in first_quarter if m.rcpt_tos == [admin.email]]  # type: ignore[attr-defined]
    assert to_a[0] == f"msnet : bilan de Organisation {network.a.upper()}, 2026-Q1"
    # By hand: A asked 2 in 2026-Q1 and was asked 1; R1 and R4 were delivered in it.
    assert "Demandes : en tant que demandeur 2, en tant que prestataire 1" in to_a[1]
    assert "* Design of the Mopti talks" in to_a[1]
    assert "* Advice on the Kidal ceasefire" in to_a[1]
    assert "/reports/quarter.pdf?quarter=2026-Q1" in to_a[1]
    (to_c,) = [plain_text(m) for m in first_quarter if m.rcpt_tos == [c_admin.email]]  # type: ignore[attr-defined]
    assert "Requests: as requester 6, as provider 5" in to_c[1]
    for title in ("Mopti", "Gao", "Kidal"):
        assert title not in to_c[1]


async def test_bad_filters_are_named_each_beside_its_field(web_node: WebNode, network: Network) -> None:
    async with signed_in(web_node, network.a_staff) as http:
        answer = await http.get("/reports?from=2026-13-01&group_by=week&side=both&theme=nothing")
        assert answer.status_code == 422
        for name in ("from", "group_by", "side"):
            assert re.search(rf'<p class="error" id="{name}-error">', answer.text), name
        assert "track-record" not in answer.text
        later = await http.get("/reports?from=2026-06-01&to=2026-01-01&theme=nothing&process_id=x")
        assert later.status_code == 422
        for name in ("to", "theme", "process_id"):
            assert re.search(rf'<p class="error" id="{name}-error">', later.text), name
        assert (await http.get("/reports/export.csv?group_by=week&side=both")).status_code == 422
        network_answer = await http.get("/reports/network?dimension=country&from=2026Q1&to=2099-Q1")
        assert network_answer.status_code == 422
        for name in ("dimension",):
            assert re.search(rf'<p class="error" id="{name}-error">', network_answer.text), name
        quarter = await http.get("/reports/quarter?quarter=2026-Q5&office_id=nope")
        assert quarter.status_code == 422
        for name in ("quarter", "office_id"):
            assert re.search(rf'<p class="error" id="{name}-error">', quarter.text), name
        assert (await http.get("/lessons?process_id=nope")).status_code == 422
    async with httpx.AsyncClient(base_url=web_node.base) as anonymous:
        for path in ("/reports", "/reports/network", "/reports/quarter", "/reports/quarter.pdf", "/lessons"):
            assert (await anonymous.get(path)).status_code == 303, path


async def test_a_quarter_out_of_the_years_reports_cover_is_named_not_a_500(
    web_node: WebNode, network: Network
) -> None:
    async with signed_in(web_node, network.a_staff) as http:
        for quarter in ("0000-Q1", "1899-Q4", "3000-Q1", "9995-Q1", "9999-Q4"):
            for path in ("/reports/quarter", "/reports/quarter.pdf"):
                answer = await http.get(f"{path}?quarter={quarter}")
                assert answer.status_code == 422, (path, quarter)
            assert (
                re.search(r'<p class="error" id="quarter-error">', answer.text) is None
            )  # the PDF's problem
            page = await http.get(f"/reports/quarter?quarter={quarter}")
            assert re.search(r'<p class="error" id="quarter-error">', page.text), quarter
        for quarter in ("1900-Q1", "2999-Q4"):
            assert (await http.get(f"/reports/quarter?quarter={quarter}")).status_code == 200, quarter
        for period in ("from=9995-01-01", "to=9999-12-31", "from=1899-12-31&to=1900-06-30"):
            page = await http.get(f"/reports?{period}")
            assert page.status_code == 422, period
            name = period.split("=")[0]
            assert re.search(rf'<p class="error" id="{name}-error">', page.text), period
            assert (await http.get(f"/reports/export.csv?{period}")).status_code == 422, period


async def test_the_reports_in_a_browser_in_both_languages(
    web_node: WebNode, network: Network, signed_in_page: SignedInPage
) -> None:
    page = await signed_in_page(web_node, network.a_staff)
    await page.goto(f"{web_node.base}/reports?{THE_PERIOD}")
    chart = page.locator("#chart-1")
    await expect(chart).to_be_visible()
    assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
    await axe_clean(page, "the track record")
    await page.goto(f"{web_node.base}/reports/network?from=2026-Q1&to=2026-Q2")
    await axe_clean(page, "the network")
    await page.goto(f"{web_node.base}/reports/quarter?quarter=2026-Q1&include={network.requests['r1']}")
    await axe_clean(page, "a quarter's report")
    await page.goto(f"{web_node.base}/lessons")
    await axe_clean(page, "the lessons")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", name="Leçons", level=1)).to_be_visible()
    await axe_clean(page, "the lessons in French")
    await page.goto(f"{web_node.base}/reports?{THE_PERIOD}&group_by=month")
    await expect(page.locator("#chart-2")).to_be_visible()
    await axe_clean(page, "the track record in French")
    await page.goto(f"{web_node.base}/reports/quarter?quarter=2026-Q1")
    await axe_clean(page, "a quarter's report in French")
    admin = await signed_in_page(web_node, await web_node.person(network.a, ["org_admin"]), "fr")
    await admin.goto(f"{web_node.base}/reports/mailing")
    await admin.locator("#mailing-change").click()
    await expect(admin.locator("#mailing-state")).to_contain_text("Vous recevez")
    await axe_clean(admin, "the quarter's e-mail in French")
