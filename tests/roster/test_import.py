"""POST /v1/experts/import: a roster CSV upserted by external_id (or id), all or nothing, every mistake
reported with its row and column; the export imported back changes nothing; a dry run writes nothing;
another organisation's experts are never matched."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import MakeCaller
from tests.roster.conftest import Caller, counts, make_expert

HEADER = "external_id,name,themes,service_types,languages,experience,availability,sharing,share_with,email,consent_given_on,consent_purpose,consent_recorded_by\n"
CONSENT = "2026-10-01,AU roster,AU MSU"
ROWS = [
    f"AU-1,Amina Traoré,ceasefire_security:expert,process_design,fr:native/native/native;en,ML;western_africa,2027-01-01..2027-06-30,network,,amina@example.org,{CONSENT}",
    "AU-2,José Pérez,constitution_making,,es;en:fluent/fluent/working,CO,2027-03-01..2027-03-31:remote,public,,,,,",
    f"AU-3,Nadia Haddad,gender_inclusion,coaching,ar;fr,LB;western_asia,,restricted,igad,nadia@example.org,{CONSENT}",
]


async def send(client: AsyncTestClient, caller: Caller, text: str, **params: Any) -> httpx.Response:
    return await client.post(
        "/v1/experts/import",
        content=text.encode(),
        params={k: str(v).lower() for k, v in params.items()},
        headers={**caller.headers, "Content-Type": "text/csv"},
    )


async def imported(client: AsyncTestClient, caller: Caller, text: str, **params: Any) -> dict[str, Any]:
    response = await send(client, caller, text, **params)
    assert response.status_code == 200, response.text
    return response.json()


def tally(report: dict[str, Any]) -> tuple[int, int, int]:
    return len(report["created"]), len(report["updated"]), len(report["unchanged"])


def problems(response: httpx.Response) -> set[tuple[str, str]]:
    """The (row and column, message) of every error of a 422."""
    assert response.status_code == 422, response.text
    return {(e["field"], e["message"]) for e in response.json()["errors"]}


async def roster(client: AsyncTestClient, caller: Caller) -> dict[str, dict[str, Any]]:
    """The caller's own experts by name."""
    page = (
        await client.get("/v1/experts", params={"organisation": caller.slug}, headers=caller.headers)
    ).json()
    return {e["name"]: e for e in page["items"]}


async def audit_actions(client: AsyncTestClient, caller: Caller) -> list[str]:
    """The roster's actions in the caller's audit log, newest first."""
    items = (await client.get("/v1/audit", params={"limit": 200}, headers=caller.headers)).json()["items"]
    return [e["action"] for e in items if e["action"].startswith(("expert.", "roster."))]


async def test_upsert_creates_then_updates_by_external_id_and_a_second_import_changes_nothing(
    client: AsyncTestClient, au: Caller, igad: Caller
) -> None:
    text = HEADER + "\n".join(ROWS) + "\n"
    first = await imported(client, au, text)
    assert (first["mode"], first["dry_run"], tally(first)) == ("upsert", False, (3, 0, 0))
    made = await roster(client, au)
    assert {e["external_id"] for e in made.values()} == {"AU-1", "AU-2", "AU-3"}
    assert {r["id"] for r in first["created"]} == {e["id"] for e in made.values()}
    assert made["Nadia Haddad"]["share_with"] == ["igad"]
    amina = made["Amina Traoré"]
    for name, email in (("Amina Traoré", "amina@example.org"), ("Nadia Haddad", "nadia@example.org")):
        contact = await client.get(f"/v1/experts/{made[name]['id']}/contact", headers=au.headers)
        assert contact.json()["email"] == email  # written together, each expert's own
    assert (await client.get(f"/v1/experts/{made['José Pérez']['id']}/contact", headers=au.headers)).json()[
        "email"
    ] is None

    again = await imported(client, au, text)
    assert tally(again) == (0, 0, 3)
    assert await roster(client, au) == made  # not even a version moved

    without_contact = HEADER.replace(",email", "") + "\n".join(  # and Amina's level changed, Olena added
        [
            f"AU-1,Amina Traoré,ceasefire_security:advanced,process_design,fr:native/native/native;en,ML;western_africa,2027-01-01..2027-06-30,network,,{CONSENT}",
            "AU-2,José Pérez,constitution_making,,es;en:fluent/fluent/working,CO,2027-03-01..2027-03-31:remote,public,,,,",
            f"AU-3,Nadia Haddad,gender_inclusion,coaching,ar;fr,LB;western_asia,,restricted,igad,{CONSENT}",
            "AU-4,Olena Kovalenko,,,uk;en,UA,,private,,,,",
        ]
    )
    report = await imported(client, au, without_contact)
    assert tally(report) == (1, 1, 2)
    [updated] = report["updated"]
    assert (updated["row"], updated["id"], updated["external_id"], updated["changed"]) == (
        2,
        amina["id"],
        "AU-1",
        ["expertise"],
    )
    after = await roster(client, au)
    assert after["Amina Traoré"]["version"] == amina["version"] + 1
    assert {"kind": "theme", "term": "ceasefire_security", "level": "advanced"} in after["Amina Traoré"][
        "expertise"
    ]
    assert after["Olena Kovalenko"]["external_id"] == "AU-4"
    contact = await client.get(f"/v1/experts/{amina['id']}/contact", headers=au.headers)
    assert contact.json()["email"] == "amina@example.org"  # no email column: the contact is left alone

    actions = await audit_actions(client, au)
    assert actions.count("expert.create") == 4
    assert actions.count("expert.update") == 1  # one entry per expert changed, none for those left alone
    assert actions.count("roster.import") == 3

    widened = await imported(client, au, "external_id,name,sharing\nAU-3,Nadia Haddad,network\n")
    assert [e["changed"] for e in widened["updated"]] == [["sharing"]]
    nadia = (await roster(client, au))["Nadia Haddad"]
    assert (nadia["sharing"], nadia["share_with"]) == ("network", [])  # no longer restricted to anyone


async def test_the_export_imported_back_changes_nothing(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    await make_expert(
        client,
        au,
        external_id="HR 7",
        expertise=[
            {"kind": "service_type", "term": "process_design"},
            {"kind": "theme", "term": "ceasefire_security", "level": "expert"},
        ],
        languages=[{"code": "fr"}, {"code": "en", "read": "none", "speak": "basic", "write": "none"}],
        availability=[
            {"start": "2027-05-01", "end": "2027-05-31", "in_person": False},
            {"start": "2027-01-01", "end": "2027-01-31", "remote": False},
        ],
        bio='=HYPERLINK("http://evil.example")\nsecond line; with a semicolon, and "quotes" ',
    )
    await make_expert(
        client, au, name="No Reference", sharing="restricted", share_with=["eu", "igad"], seniority=None
    )
    await make_expert(client, au, name="Private Person", sharing="private", consent=None, contact=None)
    await make_expert(client, eu, name="Someone Else's")
    before = await roster(client, au)

    export = await client.get("/v1/experts/export", params={"organisation": "au"}, headers=au.headers)
    rows = list(csv.DictReader(io.StringIO(export.text, newline="")))
    assert {r["id"] for r in rows} == {e["id"] for e in before.values()}
    assert {r["external_id"] for r in rows} == {"HR 7", ""}
    report = await imported(client, au, export.text)
    assert (report["mode"], tally(report)) == ("upsert", (0, 0, 3))
    assert await roster(client, au) == before
    assert "expert.update" not in await audit_actions(client, au)

    everything = await client.get("/v1/experts/export", headers=au.headers)  # the EU's expert too
    refused = await send(client, au, everything.text)
    [(field, message)] = problems(refused)
    assert field.endswith(", id")
    assert "no expert" in message
    assert "roster of 'au'" in message


async def test_a_dry_run_reports_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    await imported(client, au, HEADER + ROWS[0] + "\n")
    before = await counts(owner_conn), await audit_actions(client, au)
    text = HEADER + "\n".join([ROWS[0].replace("Amina Traoré", "Amina Traoré Diallo"), ROWS[1]]) + "\n"
    report = await imported(client, au, text, dry_run=True)
    assert (report["dry_run"], tally(report)) == (True, (1, 1, 0))
    assert report["created"][0]["id"] is None
    assert report["created"][0]["external_id"] == "AU-2"
    assert report["updated"][0]["changed"] == ["name"]
    assert (await counts(owner_conn), await audit_actions(client, au)) == before
    assert set(await roster(client, au)) == {"Amina Traoré"}


async def test_every_mistake_of_every_row_is_reported_and_nothing_written(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    existing = await make_expert(client, au, name="Already Here", external_id="AU-9")
    other = await make_expert(client, au, name="Another One", external_id="AU-8")
    before = await counts(owner_conn)
    text = (
        "id,external_id,name,themes,languages,nationalities,availability,sharing,share_with,email\n"
        + "\n".join(
            [
                ",AU-1,Fine Person,,fr,,,private,,",
                ",AU-1,Same Reference,,fr,,,private,,",  # AU-1 twice in the file
                f"{other['id']},AU-9,Mismatch,,fr,,,private,,",  # AU-9 is another expert's
                ",,X,astrology;gender_inclusion;alchemy,zz,XX,2027-05-01..2027-04-01,restricted,atlantis,not-an-email",
                ",AU-5,Widely Shared,,fr,,,network,,someone@example.org",  # contact without consent
            ]
        )
    )
    found = problems(await send(client, au, text))
    fields = sorted(field for field, _ in found)
    assert fields == sorted(
        [
            "row 3, external_id",
            "row 4, external_id",
            "row 5, name",
            "row 5, themes",
            "row 5, themes",
            "row 5, languages",
            "row 5, nationalities",
            "row 5, availability",
            "row 5, share_with",
            "row 5, email",
            "row 5, external_id",  # upsert without any key
            "row 6, consent_given_on",
        ]
    ), found
    messages = dict(found)
    assert "also on row 2" in messages["row 3, external_id"]
    assert existing["id"] in messages["row 4, external_id"]
    themes = [m for f, m in found if f == "row 5, themes"]
    assert sorted(("astrology" in m, "alchemy" in m) for m in themes) == [(False, True), (True, False)]
    assert "consent" in messages["row 6, consent_given_on"]
    assert await counts(owner_conn) == before

    created = await send(
        client, au, "id,external_id,name\n,AU-9,Again\n" + f"{existing['id']},,Named\n", mode="create"
    )
    assert {field for field, _ in problems(created)} == {"row 2, external_id", "row 3, id"}
    assert await counts(owner_conn) == before


async def test_another_organisations_experts_never_clash_nor_match(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection
) -> None:
    theirs = await make_expert(client, eu, name="EU Expert", external_id="AU-1")
    report = await imported(client, au, HEADER + ROWS[0] + "\n")
    assert tally(report) == (1, 0, 0)
    assert report["created"][0]["id"] != theirs["id"]

    before = await counts(owner_conn)
    by_id = await send(client, au, f"id,name\n{theirs['id']},Taken Over\n")
    [(field, message)] = problems(by_id)
    assert field == "row 2, id"
    assert message == f"no expert {theirs['id']} on the roster of 'au'"  # as for an id nobody has
    assert await counts(owner_conn) == before
    assert (await client.get(f"/v1/experts/{theirs['id']}", headers=eu.headers)).json() == theirs


@pytest.mark.parametrize(
    ("scopes", "content_type", "status"),
    [
        pytest.param(["roster:read"], "text/csv", 403, id="without-roster-write"),
        pytest.param(None, "text/csv", 401, id="anonymous"),
        pytest.param(["roster:write"], "application/json", 415, id="not-csv"),
    ],
)
async def test_an_import_needs_roster_write_and_a_csv_body(
    client: AsyncTestClient,
    make_caller: MakeCaller,
    owner_conn: asyncpg.Connection,
    scopes: list[str] | None,
    content_type: str,
    status: int,
) -> None:
    headers = (await make_caller("au", scopes)).headers if scopes else {}
    response = await client.post(
        "/v1/experts/import",
        content=(HEADER + ROWS[1]).encode(),
        headers={**headers, "Content-Type": content_type},
    )
    assert response.status_code == status, response.text
    assert await counts(owner_conn) == (0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"name,colour\nAmina,blue\n", "header", id="unknown-column"),
        pytest.param(b"bio\nSomething\n", "header", id="no-name-column"),
        pytest.param(b"name\n\xff\xfe\n", "body", id="not-utf8"),
        pytest.param(b"name,bio\nAmina,one,two\n", "row 2", id="too-many-cells"),
    ],
)
async def test_a_file_that_is_not_a_roster_is_422(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection, body: bytes, field: str
) -> None:
    response = await client.post(
        "/v1/experts/import", content=body, headers={**au.headers, "Content-Type": "text/csv"}
    )
    assert [f for f, _ in problems(response)] == [field]
    assert await counts(owner_conn) == (0, 0)
