"""The network's picture: every organisation's requests together, under the disclosure rule (a cell
shows only when at least MSNET_REPORTS_MIN_COUNT of its requests come from organisations other than
the one that asked most in it), including the differencing attempts it is there to defeat."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from tests.helpers import Caller, MakeCaller, assert_every_case
from tests.reports.conftest import Builder, at, refresh

from msnet.reports import service
from msnet.settings import Settings

URL = "/v1/reports/network"
MIN_COUNT = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, reports_min_count=MIN_COUNT)


async def network(client: AsyncTestClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def cells(report: dict[str, Any], quarter: str) -> dict[str, dict[str, Any]]:
    found = next(q for q in report["quarters"] if q["quarter"] == quarter)
    return {"total": found["total"], **{c["key"]: c for c in found["cells"]}}


async def test_cells_under_the_rule_are_suppressed_and_differencing_learns_nothing(
    client: AsyncTestClient, builder: Builder, callers: dict[str, Caller], sessionmaker: async_sessionmaker
) -> None:
    au, eu, igad = callers["au"], callers["eu"], callers["igad"]
    for name, slug in (("A1", "au"), ("E1", "eu"), ("I1", "igad")):
        await builder.office(slug, name)
    mali = await builder.process("au", "Mali", ["western_africa"], ["ML"])
    q1 = at("2025-02-01T00:00:00")
    # gender_inclusion in 2025-Q1: AU 3, EU 2, IGAD 1 -> 6 requests, 3 besides AU's: shown
    for office, n in (("A1", 3), ("E1", 2), ("I1", 1)):
        for _ in range(n):
            target = "E1" if office != "E1" else "A1"
            rid = await builder.request(office, mali, q1, [target], themes=["gender_inclusion"])
            await builder.respond(
                rid, builder.offices[office][1], target, at("2025-02-01T06:00:00"), experts=1
            )
    # the secret: IGAD's one private request on transhumance, to EU
    await builder.request("I1", mali, q1, ["E1"], themes=["transhumance"])
    await refresh(sessionmaker)

    first = cells(
        await network(client, au, dimension="theme", **{"from": "2025-Q1", "to": "2025-Q1"}), "2025-Q1"
    )
    gender = first["gender_inclusion"]
    assert gender["suppressed"] is False
    assert (gender["requests"], gender["offers"], gender["accepted"], gender["experts"]) == (6, 6, 0, 0)
    assert gender["first_response_hours"] == {"median": 6.0, "p90": 6.0}
    assert first["transhumance"] == _hidden("transhumance")  # one request of one organisation
    assert first["total"]["requests"] == 7  # 7 requests, 4 besides AU's
    assert first["land"] == _hidden("land")  # nobody asked: suppressed too, not 0

    # AU tries to lift the transhumance cell over the minimum with requests of its own, to subtract
    # them: the cell counts 4 (3 AU's), and only 1 comes from others besides the largest asker
    for _ in range(3):
        await builder.request("A1", mali, q1, ["E1"], themes=["transhumance"])
    await refresh(sessionmaker)
    after = cells(
        await network(client, au, dimension="theme", **{"from": "2025-Q1", "to": "2025-Q1"}), "2025-Q1"
    )
    assert after["transhumance"] == _hidden("transhumance")
    # no wider or narrower range tells more: a quarter's cells are the same in every range
    wide = await network(client, eu, dimension="theme", **{"from": "2024-Q1", "to": "2025-Q4"})
    assert cells(wide, "2025-Q1") == after
    assert all(c["suppressed"] for c in cells(wide, "2024-Q3").values())
    # the same picture for every organisation, and no organisation named in it
    assert await network(
        client, igad, dimension="theme", **{"from": "2025-Q1", "to": "2025-Q1"}
    ) == await network(client, au, dimension="theme", **{"from": "2025-Q1", "to": "2025-Q1"})
    for dimension in ("region", "service_type"):
        body = await client.get(URL, params={"dimension": dimension, "from": "2025-Q1"}, headers=au.headers)
        assert body.status_code == 200
        assert not any(slug in body.text for slug in ('"au"', '"eu"', '"igad"', "Organisation"))
    by_region = cells(
        await network(client, au, dimension="region", **{"from": "2025-Q1", "to": "2025-Q1"}), "2025-Q1"
    )
    assert by_region["western_africa"]["requests"] == 10
    assert by_region["eastern_africa"]["suppressed"] is True


def _hidden(key: str) -> dict[str, Any]:
    empty = dict.fromkeys(
        (
            "requests",
            "offers",
            "accepted",
            "delivered",
            "not_delivered",
            "declines",
            "experts",
            "first_response_hours",
            "acceptance_hours",
        )
    )
    return {"key": key, "suppressed": True, **empty}


def test_a_lone_suppressed_cell_takes_the_smallest_shown_one_with_it() -> None:
    """The total less the shown cells would be the one suppressed cell: a second is suppressed."""
    row = {
        "a": SimpleNamespace(requests=9, largest=3),
        "b": SimpleNamespace(requests=7, largest=2),
        "c": SimpleNamespace(requests=3, largest=2),  # 1 besides the largest: under 2
        "d": SimpleNamespace(requests=12, largest=4),
    }
    assert service._suppressed(row, ["a", "b", "c", "d"], True, MIN_COUNT) == {"b", "c"}  # type: ignore[arg-type]
    assert service._suppressed(row, ["a", "b", "c", "d"], False, MIN_COUNT) == {"c"}  # type: ignore[arg-type]
    row["c"] = SimpleNamespace(requests=5, largest=2)
    assert service._suppressed(row, ["a", "b", "c", "d"], True, MIN_COUNT) == set()  # type: ignore[arg-type]
    assert service._suppressed(row, ["a", "b", "c", "d", "e"], True, MIN_COUNT) == {"e", "c"}  # type: ignore[arg-type]


async def test_bad_parameters_all_at_once_and_only_ended_quarters(
    client: AsyncTestClient, callers: dict[str, Caller], make_caller: MakeCaller
) -> None:
    au = callers["au"]

    async def check(params: dict[str, str], fields: list[str]) -> None:
        response = await client.get(URL, params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert sorted(e["field"] for e in response.json()["errors"]) == sorted(fields)

    await assert_every_case(
        [
            (
                "all at once",
                {"dimension": "organisation", "from": "2025-Q5", "to": "2025"},
                ["dimension", "from", "to"],
            ),
            ("a quarter not yet ended", {"to": "2999-Q1"}, ["to"]),
            ("backwards", {"from": "2025-Q3", "to": "2025-Q1"}, ["to"]),
            ("more than forty quarters", {"from": "2010-Q1", "to": "2020-Q1"}, ["to"]),
            ("a day for a quarter", {"from": "2025-01-01"}, ["from"]),
        ],
        check,
    )
    no_scope = await make_caller("un", ["roster:read"])
    assert (await client.get(URL, headers=no_scope.headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401
