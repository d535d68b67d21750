"""Every error at once: a body, a query or a CSV row with several mistakes that only the services
can find (unknown taxonomy terms, organisations, processes, offices; rules between fields) answers
one 422 naming each of them, the first also in ``detail``, and writes nothing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest
from litestar.testing import AsyncTestClient

from msnet.errors import Errors, InvalidInput
from msnet.settings import Settings
from msnet.taxonomy import service as taxonomy
from tests.helpers import Caller, MakeCaller, add_organisation, assert_every_case

PROBLEM = "application/problem+json"
SCOPES = [
    "directory:read",
    "directory:write",
    "roster:read",
    "roster:write",
    "requests:read",
    "requests:write",
    "training:read",
    "training:write",
    "org:admin",
]
#: Restricted to two organisations that do not exist, around one that does (``eu``).
UNKNOWN_SHARE_WITH = {"sharing": "restricted", "share_with": ["atlantis", "eu", "narnia"]}
NAMES_UNKNOWN_SHARE_WITH = ["share_with.0", "share_with.2"]


def _three_checks_and_a_raise() -> None:
    with Errors() as errors:
        errors.add("title", "is empty")
        assert errors.check(taxonomy.check, "themes", "theme", ["nope", "land", "astrology"]) is None
        assert not errors.about("period")
        raise InvalidInput.field("period.end", "is before the start")


def _a_check_and_a_bug() -> None:
    with Errors() as errors:
        errors.add("title", "is empty")
        _ = 1 / 0


def test_the_collector_raises_every_error_together_and_lets_other_failures_through() -> None:
    with Errors() as errors:
        assert errors.check(taxonomy.check, "themes", "theme", ["gender_inclusion"]) == ["gender_inclusion"]
    with pytest.raises(InvalidInput) as raised:
        _three_checks_and_a_raise()
    assert [e["field"] for e in raised.value.errors] == ["title", "themes.0", "themes.2", "period.end"]
    assert raised.value.detail == "title: is empty (and 3 more, in errors)"
    with pytest.raises(ZeroDivisionError):
        _a_check_and_a_bug()


async def caller(make_caller: MakeCaller, settings: Settings) -> Caller:
    """AU, with every scope; ``eu`` exists too (the one known organisation of UNKNOWN_SHARE_WITH)."""
    await add_organisation(settings, "eu")
    return await make_caller("au", SCOPES)


def rejected(response: httpx.Response, fields: list[str], *, first_in_detail: bool = True) -> None:
    """``response`` is a 422 problem naming every one of ``fields``, its first error as the detail
    (an import's detail sums its errors up instead)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    named = [e["field"] for e in problem["errors"]]
    assert [f for f in fields if f not in named] == [], f"names {named}, not all of {fields}"
    first = problem["errors"][0]
    assert not first_in_detail or problem["detail"].startswith(f"{first['field']}: {first['message']}"), (
        problem["detail"]
    )


async def created(client: AsyncTestClient, who: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


def writes(client: AsyncTestClient, who: Caller, listing: str) -> Any:
    """A check of a table's cases: (method, path, body, fields, listing of what it would change) —
    the request names every field, and the listing is the same after it as before."""

    async def check(method: str, path: str, body: Any, fields: list[str]) -> None:
        before = (await client.get(listing, headers=who.headers)).json()
        headers = {**who.headers, "If-Match": '"1"'} if method == "PATCH" else who.headers
        rejected(await client.request(method, path, json=body, headers=headers), fields)
        assert (await client.get(listing, headers=who.headers)).json() == before, "something was written"

    return check


async def test_an_office_names_every_unknown_organisation_it_is_shared_with(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    office = await created(client, au, "/v1/offices", {"name": "AU Mediation Support Unit"})
    cases = [
        (
            "create",
            "POST",
            "/v1/offices",
            {"name": "AU Liaison", **UNKNOWN_SHARE_WITH},
            NAMES_UNKNOWN_SHARE_WITH,
        ),
        ("update", "PATCH", f"/v1/offices/{office['id']}", UNKNOWN_SHARE_WITH, NAMES_UNKNOWN_SHARE_WITH),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/offices?organisation=au"))


CAPACITY_MISTAKES = {
    "service_type": "astrology",
    "themes": ["ceasefire_security", "nope"],
    "countries": ["XX"],
    "regions": ["atlantis"],
    "languages": ["fr", "zz"],
    **UNKNOWN_SHARE_WITH,
}
CAPACITY_FIELDS = [
    "service_type",
    "themes.1",
    "countries.0",
    "regions.0",
    "languages.1",
    *NAMES_UNKNOWN_SHARE_WITH,
]


async def test_a_capacity_names_every_unknown_term_and_organisation(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    office = await created(client, au, "/v1/offices", {"name": "AU Mediation Support Unit"})
    capacity = await created(
        client, au, f"/v1/offices/{office['id']}/capacities", {"service_type": "coaching"}
    )
    cases = [
        ("create", "POST", f"/v1/offices/{office['id']}/capacities", CAPACITY_MISTAKES, CAPACITY_FIELDS),
        ("update", "PATCH", f"/v1/capacities/{capacity['id']}", CAPACITY_MISTAKES, CAPACITY_FIELDS),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/capacities?organisation=au"))


EXPERT_MISTAKES = {
    "expertise": [{"kind": "theme", "term": "astrology"}, {"kind": "service_type", "term": "coaching"}],
    "languages": [{"code": "fr"}, {"code": "zz"}],
    "nationalities": ["XX"],
    "experience": ["ML", "atlantis"],
    "availability": [
        {"start": "2027-03-01", "end": "2027-02-01"},
        {"start": "2027-04-01", "end": "2027-05-31"},
        {"start": "2027-05-01", "end": "2027-06-30"},
    ],
    "contact": {"email": "amina@example.org"},
    "consent": None,
    "sharing": "network",
    "share_with": ["eu"],
}
EXPERT_FIELDS = [
    "expertise.0.term",
    "languages.1.code",
    "nationalities.0",
    "experience.1",
    "availability.0.end",
    "availability.2",
    "consent",
    "share_with",
]


async def test_an_expert_names_every_unknown_term_bad_window_and_missing_consent(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    expert = await created(client, au, "/v1/experts", {"name": "Amina Traoré", "sharing": "private"})
    cases = [
        ("create", "POST", "/v1/experts", {"name": "José Pérez", **EXPERT_MISTAKES}, EXPERT_FIELDS),
        ("update", "PATCH", f"/v1/experts/{expert['id']}", EXPERT_MISTAKES, EXPERT_FIELDS),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/experts?organisation=au"))


async def test_a_request_names_every_unknown_reference_term_and_organisation(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    office = await created(client, au, "/v1/offices", {"name": "AU Mediation Support Unit"})
    process = await created(client, au, "/v1/processes", {"name": "CAR peace process", "countries": ["CF"]})
    period = {"start": "2027-03-01", "end": "2027-06-30"}
    draft = await created(
        client,
        au,
        "/v1/requests",
        {
            "process_id": process["id"],
            "office_id": office["id"],
            "title": "Ceasefire monitoring design support",
            "service_types": ["process_design"],
            "period": period,
            "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
        },
    )
    mistakes = {
        "service_types": ["astrology"],
        "themes": ["ceasefire_security", "nope"],
        "languages": ["zz"],
        "period": {"start": "2027-06-30", "end": "2027-03-01"},
        **UNKNOWN_SHARE_WITH,
    }
    fields = ["service_types.0", "themes.1", "languages.0", "period.end", *NAMES_UNKNOWN_SHARE_WITH]
    new = {
        **{k: draft[k] for k in ("title", "mandate")},
        "process_id": str(uuid4()),
        "office_id": str(uuid4()),
        "addressees": [str(uuid4())],
        **mistakes,
    }
    cases = [
        ("create", "POST", "/v1/requests", new, ["process_id", "office_id", "addressees.0", *fields]),
        (
            "update",
            "PATCH",
            f"/v1/requests/{draft['id']}",
            {"addressees": [office["id"]], **mistakes},
            ["addressees.0", *fields],
        ),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/requests"))


async def test_a_response_names_every_mistake_and_is_not_written(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    """An addressee's answer: an office that is not its own, a decline without a reason that still
    proposes experts (none of them on its roster) and dates out of order; and a change of the
    submitted request that drops an addressee."""
    au = await caller(make_caller, settings)
    eu = await make_caller("eu", SCOPES)
    office = await created(client, au, "/v1/offices", {"name": "AU Mediation Support Unit"})
    eu_office = await created(client, eu, "/v1/offices", {"name": "EU Mediation Support Team"})
    process = await created(client, au, "/v1/processes", {"name": "CAR peace process", "countries": ["CF"]})
    request = await created(
        client,
        au,
        "/v1/requests",
        {
            "process_id": process["id"],
            "office_id": office["id"],
            "title": "Ceasefire monitoring design support",
            "service_types": ["process_design"],
            "period": {"start": "2027-03-01", "end": "2027-06-30"},
            "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
            "addressees": [eu_office["id"]],
        },
    )
    submitted = await client.post(f"/v1/requests/{request['id']}/submit", headers=au.headers)
    assert submitted.status_code == 200, submitted.text
    path = f"/v1/requests/{request['id']}/responses"
    body = {
        "office_id": office["id"],
        "kind": "decline",
        "experts": [str(uuid4())],
        "period": {"start": "2027-06-30", "end": "2027-03-01"},
    }
    await writes(client, eu, path)(
        "POST", path, body, ["office_id", "reason", "experts", "period.end", "experts.0"]
    )
    # the requester, changing the submitted request: an office dropped, its own added, a theme unknown
    url = f"/v1/requests/{request['id']}"
    before = (await client.get(url, headers=au.headers)).json()
    change = {"addressees": [office["id"]], "themes": ["nope"]}
    response = await client.patch(
        url, json=change, headers={**au.headers, "If-Match": f'"{before["version"]}"'}
    )
    rejected(response, ["addressees", "addressees.0", "themes.0"])
    assert (await client.get(url, headers=au.headers)).json() == before


async def test_a_process_names_every_unknown_place_and_organisation(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    process = await created(client, au, "/v1/processes", {"name": "CAR peace process", "countries": ["CF"]})
    mistakes = {
        "countries": ["CF", "XX"],
        "region": "atlantis",
        "lead_mediators": ["eu", "narnia"],
        **UNKNOWN_SHARE_WITH,
    }
    fields = ["countries.1", "region", "lead_mediators.1", *NAMES_UNKNOWN_SHARE_WITH]
    cases = [
        ("create", "POST", "/v1/processes", {"name": "Sahel dialogue", **mistakes}, fields),
        ("update", "PATCH", f"/v1/processes/{process['id']}", mistakes, fields),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/processes?organisation=au"))


TRAINING = {
    "title": "Mediation process design course",
    "kind": "course",
    "format": "online",
    "start": "2027-03-08T09:00:00+03:00",
    "end": "2027-03-12T17:00:00+03:00",
    "time_zone": "Africa/Addis_Ababa",
    "apply_url": "https://training.au.example.org/design-2027",
}


async def test_a_training_names_every_unknown_term_zone_organisation_and_date_out_of_order(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    training = await created(client, au, "/v1/trainings", TRAINING)
    mistakes = {
        "themes": ["astrology"],
        "languages": ["en", "zz"],
        "time_zone": "Mars/Olympus_Mons",
        "end": "2027-03-01T17:00:00+03:00",
        "format": "in_person",
        **UNKNOWN_SHARE_WITH,
    }
    fields = ["themes.0", "languages.1", "time_zone", "end", "country", *NAMES_UNKNOWN_SHARE_WITH]
    cases = [
        ("create", "POST", "/v1/trainings", {**TRAINING, **mistakes}, fields),
        ("update", "PATCH", f"/v1/trainings/{training['id']}", mistakes, fields),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/trainings?organisation=au"))


PUBLICATION = {"title": "Inclusive mediation", "url": "https://example.org/g", "published_on": "2026-10-15"}


async def test_a_publication_names_every_unknown_term_and_organisation(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    publication = await created(
        client,
        au,
        "/v1/publications",
        PUBLICATION,
    )
    mistakes = {
        "themes": ["nope", "gender_inclusion", "astrology"],
        "languages": ["zz"],
        **UNKNOWN_SHARE_WITH,
    }
    fields = ["themes.0", "themes.2", "languages.0", *NAMES_UNKNOWN_SHARE_WITH]
    cases = [
        (
            "create",
            "POST",
            "/v1/publications",
            {**PUBLICATION, **mistakes},
            fields,
        ),
        ("update", "PATCH", f"/v1/publications/{publication['id']}", mistakes, fields),
    ]
    await assert_every_case(cases, writes(client, au, "/v1/publications?organisation=au"))


async def test_a_subscription_names_every_unknown_filter(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    body = {
        "email": "msu@au.example.org",
        "filters": {"theme": "astrology", "country": "XX", "language": "zz", "organisation": "atlantis"},
    }
    fields = ["filters.theme", "filters.country", "filters.language", "filters.organisation"]
    await writes(client, au, "/v1/subscriptions")("POST", "/v1/subscriptions", body, fields)


async def test_a_webhook_url_is_refused_for_every_reason_at_once(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    body = {
        "url": "ftp://user:secret@hooks.example.org:99999/msnet#events",
        "event_types": ["request.received"],
    }
    before = (await client.get("/v1/webhooks", headers=au.headers)).json()
    response = await client.post("/v1/webhooks", json=body, headers=au.headers)
    rejected(response, ["url"])
    messages = " | ".join(e["message"] for e in response.json()["errors"] if e["field"] == "url")
    for reason in ("http:// or https://", "credentials", "fragment", "port"):
        assert reason in messages, messages
    assert (await client.get("/v1/webhooks", headers=au.headers)).json() == before


BAD_TERMS = {
    "theme": "astrology",
    "language": "zz",
    "country": "XX",
    "region": "atlantis",
    "organisation": "atlantis",
}


async def test_a_search_names_every_unknown_filter(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)

    async def check(path: str, params: dict[str, str], fields: list[str]) -> None:
        rejected(await client.get(path, params=params, headers=au.headers), fields)

    terms = list(BAD_TERMS)
    cases = [
        (path, path, params, fields)
        for path, params, fields in (
            (
                "/v1/experts",
                {
                    **BAD_TERMS,
                    "service_type": "nope",
                    "available_from": "2027-03-01",
                    "available_to": "2027-02-01",
                },
                [*terms, "service_type", "available_to"],
            ),
            ("/v1/capacities", {**BAD_TERMS, "service_type": "nope"}, [*terms, "service_type"]),
            ("/v1/offices", {**BAD_TERMS, "service_type": "nope"}, [*terms, "service_type"]),
            (
                "/v1/trainings",
                {**BAD_TERMS, "start_from": "2027-03-01", "start_to": "2027-02-01"},
                [*terms, "start_to"],
            ),
            ("/v1/trainings.ics", BAD_TERMS, terms),
            (
                "/v1/publications",
                {"theme": "astrology", "language": "zz", "organisation": "atlantis"},
                ["theme", "language", "organisation"],
            ),
            (
                "/v1/processes",
                {"country": "XX", "region": "atlantis", "organisation": "atlantis"},
                ["country", "region", "organisation"],
            ),
        )
    ]
    await assert_every_case(cases, check)


async def test_a_csv_row_names_every_mistake_of_every_column(
    client: AsyncTestClient, make_caller: MakeCaller, settings: Settings
) -> None:
    au = await caller(make_caller, settings)
    header = "external_id,name,themes,languages,nationalities,experience,availability,sharing,share_with"
    row = (
        "AU-1,Amina Traoré,ceasefire_security;astrology,fr;zz,XX,ML;atlantis,"
        "2027-03-01..2027-02-01;2027-04-01..2027-05-31;2027-05-01..2027-06-30,restricted,atlantis;eu;narnia"
    )
    response = await client.post(
        "/v1/experts/import",
        content=f"{header}\n{row}\n".encode(),
        headers={**au.headers, "Content-Type": "text/csv"},
    )
    wrong = ["themes", "languages", "nationalities", "experience", "availability", "share_with"]
    rejected(response, [f"row 2, {column}" for column in wrong], first_in_detail=False)
    assert response.json()["detail"].endswith("nothing was imported")
    errors = response.json()["errors"]
    by_column = {
        c: [e["message"] for e in errors if e["field"] == f"row 2, {c}"]
        for c in ("availability", "share_with")
    }
    assert [m[:6] for m in by_column["availability"]] == ["item 1", "item 3"], by_column
    assert len(by_column["share_with"]) == 2, by_column
    assert [m for m in by_column["share_with"] if "'eu'" in m] == [], by_column
    assert (await client.get("/v1/experts?organisation=au", headers=au.headers)).json()["total"] == 0
