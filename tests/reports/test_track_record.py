"""An organisation's own track record: figures checked against counts and times worked out by hand
from a small network built with known times, grouping, filters, CSV, isolation and bad parameters."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from tests.helpers import Caller, MakeCaller, assert_every_case
from tests.reports.conftest import Builder, at, refresh

URL = "/v1/reports/track-record"
YEAR = {"from": "2027-01-01", "to": "2027-06-30"}


def figures(**given: Any) -> dict[str, Any]:
    """A side's figures: zero and null unless given."""
    empty = {
        "requests": 0,
        "offers": 0,
        "offers_accepted": 0,
        "declines": 0,
        "delivered": 0,
        "not_delivered": 0,
        "experts": 0,
        "first_response_hours": {"median": None, "p90": None},
        "acceptance_hours": {"median": None, "p90": None},
        "not_delivered_reasons": [],
    }
    return {**empty, **given}


def spread(median: float | None, p90: float | None) -> dict[str, float | None]:
    return {"median": median, "p90": p90}


async def build(b: Builder) -> dict[str, Any]:
    """AU asks three times in 2027's first half (and once in 2026, and keeps a draft), EU asks AU once,
    IGAD asks EU privately. Times are hours after submission."""
    for name, slug in (("A1", "au"), ("A2", "au"), ("E1", "eu"), ("I1", "igad")):
        await b.office(slug, name)
    mali = await b.process("au", "Mali inter-Malian dialogue", ["western_africa", "africa"], ["ML"])
    sudan = await b.process("igad", "Sudan talks", ["eastern_africa", "africa"], ["SD"])
    t0 = at("2027-01-10T00:00:00")
    r1 = await b.request(
        "A1",
        mali,
        t0,
        ["E1", "I1"],
        themes=["gender_inclusion", "national_dialogue"],
        state="completed",
        outcome={"delivered": True, "modality": "remote", "reason": "", "note": "Brief early."},
        closed=at("2027-03-01T00:00:00"),
    )
    await b.respond(r1, "au", "E1", at("2027-01-10T10:00:00"), experts=2, status="accepted")
    await b.respond(r1, "au", "I1", at("2027-01-10T20:00:00"), kind="decline")
    await b.event(r1, "au", "accepted", at("2027-01-11T06:00:00"))  # 30 h
    r2 = await b.request(
        "A1",
        sudan,
        at("2027-02-01T00:00:00"),
        ["E1"],
        themes=["gender_inclusion"],
        service_types=["advisory_support"],
        state="completed",
        outcome={"delivered": False, "reason": "the talks were suspended", "note": ""},
        closed=at("2027-03-15T00:00:00"),
    )
    await b.respond(r2, "au", "E1", at("2027-02-01T04:00:00"), experts=1, status="accepted")
    await b.event(r2, "au", "accepted", at("2027-02-01T08:00:00"))  # 8 h
    await b.request("A2", mali, at("2027-04-05T12:00:00"), ["E1", "I1"])  # no answer yet
    await b.request("A1", mali, None, ["E1"], state="draft")  # never submitted: not counted
    await b.request("A1", mali, at("2026-12-31T23:00:00"), ["E1"])  # before the period
    r6 = await b.request(
        "E1",
        sudan,
        at("2027-03-01T00:00:00"),
        ["A1"],
        themes=["national_dialogue"],
        state="completed",
        outcome={"delivered": True, "modality": "in_person", "reason": "", "note": ""},
        closed=at("2027-05-01T00:00:00"),
    )
    await b.respond(r6, "eu", "A1", at("2027-03-01T02:00:00"), experts=3, status="accepted")
    await b.event(r6, "eu", "accepted", at("2027-03-03T02:00:00"))  # 50 h
    r7 = await b.request("I1", sudan, at("2027-01-20T00:00:00"), ["E1"], themes=["national_dialogue"])
    await b.respond(r7, "igad", "E1", at("2027-01-20T05:00:00"), kind="decline")
    await b.training("au", at("2027-02-15T08:00:00"), ["gender_inclusion"], ["eastern_africa"], "ET")
    await b.training("au", at("2027-05-01T08:00:00"), [], ["western_africa"], "SN")
    await b.training("eu", at("2027-02-20T08:00:00"), ["gender_inclusion"], ["western_europe"], "BE")
    return {"mali": mali, "sudan": sudan, "r7": r7}


# AU's figures, by hand. First responses: R1 10 h (E1; I1 declined at 20 h), R2 4 h: median 7, 90th
# percentile 4 + 0.9 × 6 = 9.4. Acceptance: R1 30 h, R2 8 h: median 19, p90 8 + 0.9 × 22 = 27.8.
AU_Q1_ASKED = figures(
    requests=2,
    offers=2,
    offers_accepted=2,
    declines=1,
    delivered=1,
    not_delivered=1,
    experts=3,
    first_response_hours=spread(7.0, 9.4),
    acceptance_hours=spread(19.0, 27.8),
    not_delivered_reasons=["the talks were suspended"],
)
AU_R6_RECEIVED = figures(
    requests=1,
    offers=1,
    offers_accepted=1,
    delivered=1,
    experts=3,
    first_response_hours=spread(2.0, 2.0),
    acceptance_hours=spread(50.0, 50.0),
)
AU_TOTAL = {
    "key": "total",
    "label": None,
    "asked": {**AU_Q1_ASKED, "requests": 3},  # R3 adds a request and nothing else
    "received": AU_R6_RECEIVED,
    "trainings": 2,
}


async def track_record(client: AsyncTestClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_figures_by_quarter_theme_and_outcome_as_worked_out_by_hand(
    client: AsyncTestClient, builder: Builder, callers: dict[str, Caller], sessionmaker: async_sessionmaker
) -> None:
    ids = await build(builder)
    assert await refresh(sessionmaker) == 10  # the seven requests (the draft too) and three trainings
    au, eu, igad = callers["au"], callers["eu"], callers["igad"]

    by_quarter = await track_record(client, au, **YEAR)
    assert (by_quarter["organisation"], by_quarter["from"], by_quarter["to"]) == (
        "au",
        "2027-01-01",
        "2027-06-30",
    )
    assert by_quarter["rows"] == [
        {"key": "2027-Q1", "label": None, "asked": AU_Q1_ASKED, "received": AU_R6_RECEIVED, "trainings": 1},
        {
            "key": "2027-Q2",
            "label": None,
            "asked": figures(requests=1),
            "received": figures(),
            "trainings": 1,
        },
    ]
    assert by_quarter["total"] == AU_TOTAL

    by_theme = await track_record(client, au, group_by="theme", **YEAR)
    assert [r["key"] for r in by_theme["rows"]] == ["gender_inclusion", "national_dialogue", "none"]
    gender, dialogue, none = by_theme["rows"]
    assert gender == {
        "key": "gender_inclusion",
        "label": None,
        "asked": AU_Q1_ASKED,
        "received": figures(),
        "trainings": 1,
    }
    assert dialogue["asked"] == figures(
        requests=1,
        offers=1,
        offers_accepted=1,
        declines=1,
        delivered=1,
        experts=2,
        first_response_hours=spread(10.0, 10.0),
        acceptance_hours=spread(30.0, 30.0),
    )
    assert (dialogue["received"], dialogue["trainings"]) == (AU_R6_RECEIVED, 0)
    assert (none["asked"], none["received"], none["trainings"]) == (figures(requests=1), figures(), 1)
    assert by_theme["total"] == AU_TOTAL  # each request once, whatever its themes

    by_outcome = await track_record(client, au, group_by="outcome", **YEAR)
    assert {r["key"]: (r["asked"]["requests"], r["received"]["requests"]) for r in by_outcome["rows"]} == {
        "delivered": (1, 1),
        "not_delivered": (1, 0),
        "open": (1, 0),
    }
    assert all(r["trainings"] is None for r in [*by_outcome["rows"], by_outcome["total"]])

    by_process = await track_record(client, au, group_by="process", **YEAR)
    assert {r["key"]: (r["label"], r["asked"]["requests"]) for r in by_process["rows"]} == {
        str(ids["mali"]): ("Mali inter-Malian dialogue", 2),
        str(ids["sudan"]): ("Sudan talks", 1),
    }

    by_month = await track_record(client, au, group_by="month", **YEAR)
    assert [(r["key"], r["asked"]["requests"]) for r in by_month["rows"]] == [
        ("2027-01", 1),
        ("2027-02", 1),
        ("2027-03", 0),
        ("2027-04", 1),
        ("2027-05", 0),
        ("2027-06", 0),
    ]

    # filters: a region, an office, a service type
    sudan_only = await track_record(client, au, region="eastern_africa", **YEAR)
    assert sudan_only["total"]["asked"]["requests"] == 1
    assert sudan_only["total"]["received"] == AU_R6_RECEIVED
    assert sudan_only["total"]["trainings"] == 1  # the Ethiopian course is in eastern Africa
    a2 = await track_record(client, au, office_id=str(builder.offices["A2"][0]), **YEAR)
    assert (a2["total"]["asked"], a2["total"]["received"], a2["total"]["trainings"]) == (
        figures(requests=1),
        figures(),
        None,
    )
    advisory = await track_record(client, au, service_type="advisory_support", group_by="country", **YEAR)
    assert [(r["key"], r["asked"]["not_delivered"]) for r in advisory["rows"]] == [("SD", 1)]

    # IGAD's private request to EU is in EU's and IGAD's figures, in nobody else's
    assert (await track_record(client, eu, **YEAR))["total"]["received"]["declines"] == 1
    assert (await track_record(client, eu, **YEAR))["total"]["received"]["requests"] == 4
    igad_total = (await track_record(client, igad, **YEAR))["total"]
    assert (igad_total["asked"]["requests"], igad_total["asked"]["declines"]) == (1, 1)
    assert igad_total["received"]["declines"] == 1  # its own decline of R1

    # an answer is kept only while the figures stand: a new training shows after the next refresh
    await builder.training("au", at("2027-06-01T08:00:00"), [], ["western_africa"], "SN")
    assert (await track_record(client, au, **YEAR))["total"]["trainings"] == 2
    assert await refresh(sessionmaker) == 1
    assert (await track_record(client, au, **YEAR))["total"]["trainings"] == 3


async def test_the_csv_is_exactly_what_the_json_shows(
    client: AsyncTestClient, builder: Builder, callers: dict[str, Caller], sessionmaker: async_sessionmaker
) -> None:
    await build(builder)
    await refresh(sessionmaker)
    au = callers["au"]
    for params in (
        {"group_by": "quarter"},
        {"group_by": "theme"},
        {"group_by": "outcome", "office_id": None},
    ):
        params = {k: v for k, v in params.items() if v is not None}
        shown = await track_record(client, au, **params, **YEAR)
        by_header = await client.get(
            URL, params={**params, **YEAR}, headers={**au.headers, "Accept": "text/csv"}
        )
        by_format = await client.get(URL, params={**params, **YEAR, "format": "csv"}, headers=au.headers)
        for answer in (by_header, by_format):
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert by_header.text == by_format.text
        table = list(csv.DictReader(io.StringIO(by_header.text, newline="")))
        assert table == [_flat(row) for row in [*shown["rows"], shown["total"]]]


def _flat(row: dict[str, Any]) -> dict[str, str]:
    """A row of the JSON as the CSV should have it: empty for null, reasons joined by ' | '."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    flat = {"key": row["key"], "label": text(row["label"])}
    for side in ("asked", "received"):
        f = row[side]
        for name in (
            "requests",
            "offers",
            "offers_accepted",
            "declines",
            "delivered",
            "not_delivered",
            "experts",
        ):
            flat[f"{side}_{name}"] = text(f[name])
        for spread_name in ("first_response_hours", "acceptance_hours"):
            for part in ("median", "p90"):
                flat[f"{side}_{spread_name}_{part}"] = text(f[spread_name][part])
        flat[f"{side}_not_delivered_reasons"] = " | ".join(f["not_delivered_reasons"])
    flat["trainings"] = text(row["trainings"])
    return flat


async def test_nobody_reads_another_organisations_track_record(
    client: AsyncTestClient,
    builder: Builder,
    callers: dict[str, Caller],
    sessionmaker: async_sessionmaker,
    make_caller: MakeCaller,
) -> None:
    await build(builder)
    await refresh(sessionmaker)
    eu = callers["eu"]
    au_office = str(builder.offices["A1"][0])
    refused = await client.get(URL, params={"office_id": au_office, **YEAR}, headers=eu.headers)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["office_id"]
    assert au_office not in refused.text
    # EU's own record holds AU's requests to EU as received, never AU's own figures
    eu_total = (await track_record(client, eu, **YEAR))["total"]
    assert eu_total["asked"]["requests"] == 1
    assert eu_total["asked"]["acceptance_hours"] == spread(50.0, 50.0)
    no_scope = await make_caller("un", ["roster:read"])
    assert (await client.get(URL, params=YEAR, headers=no_scope.headers)).status_code == 403
    assert (await client.get(URL, params=YEAR)).status_code == 401


async def test_every_bad_parameter_in_one_422(client: AsyncTestClient, callers: dict[str, Caller]) -> None:
    au = callers["au"]

    async def check(params: dict[str, str], fields: list[str]) -> None:
        response = await client.get(URL, params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert sorted(e["field"] for e in response.json()["errors"]) == sorted(fields)

    every = {
        "from": "2027-13-01",
        "to": "yesterday",
        "group_by": "week",
        "office_id": "not-a-uuid",
        "theme": "cooking",
        "service_type": "catering",
        "region": "atlantis",
        "country": "XX",
        "process_id": "0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47",
        "format": "pdf",
    }
    await assert_every_case(
        [
            ("all at once", every, sorted(every)),
            ("to before from", {"from": "2027-06-01", "to": "2027-01-01"}, ["to"]),
            ("more than ten years", {"from": "2010-01-01", "to": "2027-01-01"}, ["to"]),
            ("a timestamp for a day", {"from": "1798761600"}, ["from"]),
            ("a Feb 30", {"to": "2027-02-30", "group_by": "Month"}, ["to", "group_by"]),
            ("an unknown office", {"office_id": "0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47"}, ["office_id"]),
            ("a from past the years reports cover", {"from": "9995-01-01"}, ["from"]),
            ("both out of those years", {"from": "1899-12-31", "to": "3000-01-01"}, ["from", "to"]),
            (
                "the last day a report covers, from the first",
                {"from": "0001-01-01", "to": "2999-12-31"},
                ["from"],
            ),
        ],
        check,
    )
    last = await client.get(URL, params={"from": "2999-01-01", "to": "2999-12-31"}, headers=au.headers)
    assert last.status_code == 200, last.text


async def test_a_request_to_two_offices_of_one_organisation_counts_once_with_their_answers_together(
    client: AsyncTestClient, builder: Builder, callers: dict[str, Caller], sessionmaker: async_sessionmaker
) -> None:
    for name, slug in (("A1", "au"), ("A2", "au"), ("E1", "eu")):
        await builder.office(slug, name)
    process = await builder.process("eu", "Chad dialogue", ["middle_africa"], ["TD"])
    asked = await builder.request("E1", process, at("2027-05-10T00:00:00"), ["A1", "A2"])
    await builder.respond(asked, "eu", "A1", at("2027-05-10T03:00:00"))
    await builder.respond(asked, "eu", "A2", at("2027-05-10T01:00:00"), kind="decline")
    await refresh(sessionmaker)
    both = figures(requests=1, offers=1, declines=1, first_response_hours=spread(1.0, 1.0))
    may = {"from": "2027-05-01", "to": "2027-05-31"}
    assert (await track_record(client, callers["au"], **may))["total"]["received"] == both
    a2 = await track_record(client, callers["au"], office_id=str(builder.offices["A2"][0]), **may)
    assert a2["total"]["received"] == both
    assert (await track_record(client, callers["eu"], **may))["total"]["asked"] == both
