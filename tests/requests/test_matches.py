"""Routing: offices (through their capacities) and experts ranked against a request with a reason in
words per dimension; ties to the conflict flagged, never dropped; "route to the best matches"."""

from __future__ import annotations

from datetime import date, timedelta

from litestar.testing import AsyncTestClient

from tests.requests.conftest import (
    Caller,
    Network,
    get,
    make_capacity,
    make_expert,
    make_request,
    post,
)

OFFICE_DIMENSIONS = ["service_type", "themes", "coverage", "language", "timing", "load", "freshness"]
EXPERT_DIMENSIONS = ["service_type", "themes", "coverage", "language", "availability"]
EXPERTISE = [
    {"kind": "service_type", "term": "process_design"},
    {"kind": "theme", "term": "ceasefire_security", "level": "expert"},
]


def texts(match: dict) -> dict[str, str]:
    return {r["dimension"]: r["text"] for r in match["reasons"]}


async def test_offices_and_experts_are_ranked_with_reasons_and_ties_flagged(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network
) -> None:
    # a second, weaker candidate: right service, only the region, too slow to start, no French
    await make_capacity(
        client,
        igad,
        network.igad_office["id"],
        regions=["sub_saharan_africa"],
        lead_time_days=90,
        languages=["en"],
    )
    clean = await make_expert(
        client,
        eu,
        name="Claire Martin",
        expertise=EXPERTISE,
        nationalities=["FR"],
        experience=["CF"],
        affiliations=["Sciences Po"],
    )
    national = await make_expert(
        client,
        eu,
        name="Jean-Pierre Ngaba",
        expertise=EXPERTISE,
        nationalities=["CF"],
        experience=["CF"],
        affiliations=[],
    )
    affiliated = await make_expert(
        client,
        igad,
        name="Abdou Mahamat",
        expertise=EXPERTISE,
        nationalities=["TD"],
        experience=["CF"],
        affiliations=["Coalition des patriotes pour le changement (CPC)"],
    )
    hidden = await make_expert(client, igad, name="Hidden Person", expertise=EXPERTISE, sharing="private")
    made = await make_request(client, au, network)
    start = date.fromisoformat(made["period"]["start"])

    matches = await get(client, au, f"/v1/requests/{made['id']}/matches")
    assert matches["request_id"] == made["id"]
    offices = matches["offices"]
    assert [o["office_id"] for o in offices] == [network.eu_office["id"], network.igad_office["id"]]
    best, weaker = offices
    assert (best["organisation"], best["office"]) == ("eu", network.eu_office["name"])
    assert [r["dimension"] for r in best["reasons"]] == OFFICE_DIMENSIONS
    assert texts(best) == {
        "service_type": "offers process_design, as requested",
        "themes": "covers 1 of 1 requested themes: ceasefire_security",
        "coverage": "covers CF",
        "language": "works in fr",
        "timing": f"needs 7 days' notice; the request can wait {(start - date.today()).days} days",
        "load": "2 of 2 engagements free",
        "freshness": "confirmed 0 days ago",
    }
    assert best["score"] == 100
    assert best["score"] == sum(r["points"] for r in best["reasons"])
    assert [r["dimension"] for r in weaker["reasons"]] == OFFICE_DIMENSIONS
    assert weaker["score"] < best["score"]
    assert weaker["score"] == round(sum(r["points"] for r in weaker["reasons"]), 1)
    assert texts(weaker)["language"] == "works in none of fr"
    assert texts(weaker)["timing"].startswith("needs 90 days' notice; the request can wait only")
    assert texts(weaker)["coverage"].startswith("covers the region")
    assert network.au_office["id"] not in {o["office_id"] for o in offices}  # not the asking office

    experts = {e["expert_id"]: e for e in matches["experts"]}
    assert hidden["id"] not in experts  # what the requester may not see is not matched
    assert set(experts) == {clean["id"], national["id"], affiliated["id"]}
    for expert in experts.values():
        assert [r["dimension"] for r in expert["reasons"]] == EXPERT_DIMENSIONS
        assert expert["score"] == sum(r["points"] for r in expert["reasons"]) == 90
    period = f"{made['period']['start']} to {made['period']['end']}"
    assert texts(experts[clean["id"]]) == {
        "service_type": "expertise in process_design",
        "themes": "covers 1 of 1 requested themes: ceasefire_security",
        "coverage": "covers CF",
        "language": "works in fr",
        "availability": f"available for the whole period ({period})",
    }
    assert experts[clean["id"]]["conflicts_of_interest"] == []
    assert experts[national["id"]]["conflicts_of_interest"] == ["national of CF, a country of the process"]
    assert experts[affiliated["id"]]["conflicts_of_interest"] == [
        "affiliated with 'Coalition des patriotes pour le changement (CPC)', tied to the conflict party "
        "'Coalition des patriotes pour le changement'"
    ]
    assert experts[affiliated["id"]]["organisation"] == "igad"

    # availability is weighed: the whole period, part of it, none
    part = await make_expert(
        client,
        eu,
        name="Part Time",
        expertise=EXPERTISE,
        availability=[{"start": start.isoformat(), "end": (start + timedelta(days=5)).isoformat()}],
    )
    away = await make_expert(
        client,
        eu,
        name="Far Away",
        expertise=EXPERTISE,
        availability=[{"start": "2020-01-01", "end": "2020-12-31"}],
    )
    matches = await get(client, au, f"/v1/requests/{made['id']}/matches")
    experts = {e["expert_id"]: e for e in matches["experts"]}
    assert texts(experts[part["id"]])["availability"].startswith("available for part of")
    assert texts(experts[away["id"]])["availability"].startswith("not available")
    assert experts[part["id"]]["score"] > experts[away["id"]]["score"]
    assert [e["expert_id"] for e in matches["experts"]][-2:] == [part["id"], away["id"]]


async def test_an_accepted_engagement_counts_against_the_offices_load(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    engaged = await make_request(client, au, network)
    offer = await post(
        client,
        eu,
        f"/v1/requests/{engaged['id']}/responses",
        {"office_id": network.eu_office["id"], "kind": "offer"},
    )
    await post(client, au, f"/v1/requests/{engaged['id']}/responses/{offer['id']}/accept", status=200)
    made = await make_request(client, au, network, submit=False)
    (eu_match,) = (await get(client, au, f"/v1/requests/{made['id']}/matches"))["offices"]
    load = next(r for r in eu_match["reasons"] if r["dimension"] == "load")
    assert (load["text"], load["points"]) == ("1 of 2 engagements free", 5)
    assert eu_match["score"] == 95


async def test_route_to_the_best_matches_addresses_them_at_submit_with_the_reasons(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    draft = await make_request(client, au, network, submit=False, route="best_matches", addressees=[])
    assert (draft["addressees"], draft["routing"]) == ([], [])
    submitted = await post(client, au, f"/v1/requests/{draft['id']}/submit", status=200)
    assert submitted["addressees"] == [
        {"office_id": network.eu_office["id"], "organisation": "eu", "office": network.eu_office["name"]}
    ]
    (routed,) = submitted["routing"]
    matched = (await get(client, au, f"/v1/requests/{draft['id']}/matches"))["offices"][0]
    assert routed == {
        "office_id": matched["office_id"],
        "score": matched["score"],
        "reasons": matched["reasons"],
        "own_organisation": False,
    }
    assert [r["dimension"] for r in routed["reasons"]] == OFFICE_DIMENSIONS
    inbox = await get(client, eu, "/v1/inbox")
    assert [r["id"] for r in inbox["items"]] == [draft["id"]]

    # with no good enough match, the request stays a draft
    unmatched = await make_request(
        client,
        au,
        network,
        submit=False,
        route="best_matches",
        addressees=[],
        service_types=["mediator_selection"],
        themes=["transhumance"],
    )
    response = await client.post(f"/v1/requests/{unmatched['id']}/submit", headers=au.headers)
    assert response.status_code == 409, response.text
    assert response.json()["allowed"] == ["cancelled"]
    now = await get(client, au, f"/v1/requests/{unmatched['id']}")
    assert (now["state"], now["addressees"], now["version"]) == ("draft", [], 1)
