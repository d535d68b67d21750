"""The calendar and the Atom feed, read back with icalendar and feedparser as calendar programs and
feed readers would: time zones, sharing, filters."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import feedparser
import icalendar
from litestar.testing import AsyncTestClient

from tests.training.conftest import Caller, make_training


async def calendar(client: AsyncTestClient, who: Caller | None, **params: str) -> icalendar.Calendar:
    response = await client.get("/v1/trainings.ics", params=params, headers=who.headers if who else {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"  # the charset once
    return icalendar.Calendar.from_ical(response.content)


async def atom(client: AsyncTestClient, who: Caller | None, **params: str) -> feedparser.FeedParserDict:
    response = await client.get("/v1/trainings.atom", params=params, headers=who.headers if who else {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


async def test_events_keep_their_time_zone(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    training = await make_training(client, au)
    await make_training(
        client,
        eu,
        title="Negotiation webinar",
        format="online",
        kind="webinar",
        city=None,
        country=None,
        start="2027-04-01T14:00:00Z",
        end="2027-04-01T15:30:00Z",
        time_zone="America/New_York",
        application_deadline=None,
    )
    cal = await calendar(client, eu)
    assert cal["version"] == "2.0"
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"Mediation process design course", "Negotiation webinar"}

    course = events["Mediation process design course"]
    start, end = course.decoded("dtstart"), course.decoded("dtend")
    assert start == datetime(2027, 3, 8, 9, 0, tzinfo=ZoneInfo("Africa/Addis_Ababa"))
    assert course["dtstart"].params["TZID"] == "Africa/Addis_Ababa"
    assert start.astimezone(UTC) == datetime(2027, 3, 8, 6, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2027, 3, 12, 14, 0, tzinfo=UTC)
    assert str(course["uid"]) == f"{training['id']}@127.0.0.1"
    assert str(course["location"]) == "Addis Ababa, Ethiopia"
    assert str(course["url"]) == training["apply_url"]
    assert "Apply by: 31 Jan 2027 23:59" in str(course["description"])

    webinar = events["Negotiation webinar"]
    assert webinar["dtstart"].params["TZID"] == "America/New_York"
    assert webinar.decoded("dtstart").astimezone(UTC) == datetime(2027, 4, 1, 14, 0, tzinfo=UTC)
    assert webinar.decoded("dtstart").hour == 10  # New York is on daylight time by then
    assert "location" not in webinar
    zones = {str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")}
    assert zones == {"Africa/Addis_Ababa", "America/New_York"}


async def test_the_atom_feed_lists_trainings_with_their_details(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    training = await make_training(client, au)
    feed = await atom(client, eu)
    assert feed.feed.title == "msnet trainings"
    [entry] = feed.entries
    assert entry.id == f"urn:uuid:{training['id']}"
    assert entry.title == training["title"]
    assert entry.link == training["apply_url"]
    assert entry.author == "AU"
    assert "When: 08 Mar 2027 09:00 – 12 Mar 2027 17:00 (Africa/Addis_Ababa)" in entry.content[0].value
    assert {t.term for t in entry.tags} == {"course", "national_dialogue", "gender_inclusion"}


async def test_without_a_token_the_feeds_carry_public_trainings_only(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    await make_training(client, au, title="Public course", sharing="public")
    await make_training(client, au, title="Network course")
    await make_training(client, au, title="Private course", sharing="private")
    await make_training(client, au, title="Restricted course", sharing="restricted", share_with=["igad"])
    expected: list[tuple[Caller | None, set[str]]] = [
        (None, {"Public course"}),
        (eu, {"Public course", "Network course"}),
        (igad, {"Public course", "Network course", "Restricted course"}),
        (au, {"Public course", "Network course", "Private course", "Restricted course"}),
    ]
    for who, titles in expected:
        assert {str(e["summary"]) for e in (await calendar(client, who)).walk("VEVENT")} == titles
        assert {e.title for e in (await atom(client, who)).entries} == titles
    anonymous = await client.get("/v1/trainings.ics")
    assert "CLASS:PUBLIC" in anonymous.text


async def test_the_feeds_take_the_search_filters(client: AsyncTestClient, au: Caller) -> None:
    await make_training(client, au)
    await make_training(
        client, au, title="Retreat in Brussels", kind="envoy_retreat", country="BE", city="Brussels"
    )
    assert [str(e["summary"]) for e in (await calendar(client, au, country="BE")).walk("VEVENT")] == [
        "Retreat in Brussels"
    ]
    assert [e.title for e in (await atom(client, au, kind="course", q="design")).entries] == [
        "Mediation process design course"
    ]
    assert (await calendar(client, au, theme="transhumance")).walk("VEVENT") == []
