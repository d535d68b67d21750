"""The roster end to end: create, search with facets, contact (audited), erase to a tombstone."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for

SCOPES = ["roster:read", "roster:write", "roster:contact", "audit:read"]

AMINA = {
    "name": "Amina Traoré",
    "bio": "Former deputy mediator; négociation des cessez-le-feu in the Sahel.",
    "seniority": "senior",
    "expertise": [
        {"kind": "theme", "term": "ceasefire_security", "level": "expert"},
        {"kind": "service_type", "term": "process_design"},
    ],
    "languages": [{"code": "fr", "read": "native", "speak": "native", "write": "native"}, {"code": "en"}],
    "nationalities": ["ML"],
    "experience": ["ML", "western_africa"],
    "availability": [{"start": "2027-01-01", "end": "2027-06-30"}],
    "affiliations": ["University of Bamako"],
    "consent": {"given_on": "2026-10-01", "purpose": "network roster", "recorded_by": "AU MSU"},
    "contact": {"email": "amina@example.org", "phone": "+223 20 00 00 00"},
}


async def test_roster_round_trip(client: AsyncTestClient, settings: Settings) -> None:
    au = bearer(await token_for(client, await add_client(settings, "au", SCOPES)))
    eu = bearer(await token_for(client, await add_client(settings, "eu", ["roster:read"])))
    created = await client.post("/v1/experts", json=AMINA, headers=au)
    assert created.status_code == 201, created.text
    expert = created.json()
    assert "contact" not in expert
    assert "western_africa" in expert["regions"]
    hidden = await client.post(
        "/v1/experts", json={**AMINA, "name": "Private Person", "sharing": "private"}, headers=au
    )
    assert hidden.status_code == 201

    response = await client.get(
        "/v1/experts", params={"q": "negociation cessez", "language": "fr"}, headers=eu
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert [e["id"] for e in found["items"]] == [expert["id"]]
    assert found["facets"]["theme"] == {"ceasefire_security": 1}
    assert found["facets"]["organisation"] == {"au": 1}
    available = await client.get(
        "/v1/experts", params={"available_from": "2027-02-01", "available_to": "2027-03-01"}, headers=eu
    )
    assert available.json()["total"] == 1
    busy = await client.get(
        "/v1/experts", params={"available_from": "2027-06-01", "available_to": "2027-07-15"}, headers=eu
    )
    assert busy.json()["total"] == 0

    assert (await client.get(f"/v1/experts/{expert['id']}/contact", headers=eu)).status_code == 403
    contact = await client.get(f"/v1/experts/{expert['id']}/contact", headers=au)
    assert contact.json()["email"] == "amina@example.org"
    audit = (await client.get("/v1/audit", params={"action": "expert.contact.read"}, headers=au)).json()
    assert [e["resource_id"] for e in audit["items"]] == [expert["id"]]

    assert (
        await client.delete(f"/v1/experts/{expert['id']}", headers={**au, "If-Match": '"1"'})
    ).status_code == 204
    assert (await client.get(f"/v1/experts/{expert['id']}", headers=au)).status_code == 404
    assert (await client.get("/v1/experts", headers=eu)).json()["total"] == 0


async def test_bad_windows_and_terms_are_422(client: AsyncTestClient, settings: Settings) -> None:
    au = bearer(await token_for(client, await add_client(settings, "au", SCOPES)))
    for body, field in (
        ({**AMINA, "availability": [{"start": "2027-02-01", "end": "2027-01-01"}]}, "availability.0.end"),
        (
            {
                **AMINA,
                "availability": [
                    {"start": "2027-01-01", "end": "2027-03-01"},
                    {"start": "2027-02-01", "end": "2027-04-01"},
                ],
            },
            "availability.1",
        ),
        ({**AMINA, "expertise": [{"kind": "theme", "term": "astrology"}]}, "expertise.0.term"),
        ({**AMINA, "nationalities": ["XX"]}, "nationalities.0"),
        ({**AMINA, "languages": [{"code": "zz"}]}, "languages.0.code"),
        ({**AMINA, "contact": {"email": "nope"}}, "contact.email"),
    ):
        response = await client.post("/v1/experts", json=body, headers=au)
        assert response.status_code == 422, (field, response.text)
        assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get("/v1/experts", headers=au)).json()["total"] == 0
