"""Trainings as an iCalendar (RFC 5545) calendar and an Atom (RFC 4287) feed."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from feedgen.feed import FeedGenerator

import msnet
from msnet.taxonomy import service as taxonomy
from msnet.training import schemas

KIND_LABELS = {
    "course": "Course",
    "workshop": "Workshop",
    "exchange_visit": "Exchange visit",
    "envoy_retreat": "Envoy retreat",
    "peer_exchange": "Peer exchange",
    "webinar": "Webinar",
}
FORMAT_LABELS = {"in_person": "in person", "online": "online", "hybrid": "hybrid"}
AUDIENCE_LABELS = {
    "member_staff": "staff of member organisations",
    "envoy_teams": "envoys and their teams",
    "partners": "partners",
}


@functools.cache
def _labels() -> dict[str, str]:
    """English labels of themes and countries, by id."""
    whole = taxonomy.taxonomy()
    return {t.id: t.label.en for t in (*whole.themes, *whole.countries)}


def _theme_labels(themes: Sequence[str]) -> list[str]:
    return [_labels().get(t, t) for t in themes]


def place(training: schemas.Training) -> str:
    """Where it takes place, in words: "Addis Ababa, Ethiopia (hybrid)", "Online"."""
    if training.format == "online":
        return "Online"
    country = _labels().get(training.country, training.country) if training.country else ""
    where = ", ".join(p for p in (training.city, country) if p)
    return f"{where} (hybrid)" if training.format == "hybrid" else where


def local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


def details(training: schemas.Training) -> str:
    """The plain-text description every feed and digest gives of a training."""
    start, end = local(training.start, training.time_zone), local(training.end, training.time_zone)
    lines = [
        f"{KIND_LABELS[training.kind]}, {FORMAT_LABELS[training.format]}, organised by "
        f"{training.organisation.upper()}.",
        f"When: {start:%d %b %Y %H:%M} – {end:%d %b %Y %H:%M} ({training.time_zone})",
    ]
    if training.format != "online":
        lines.append(f"Where: {place(training)}")
    if training.application_deadline:
        deadline = local(training.application_deadline, training.time_zone)
        lines.append(f"Apply by: {deadline:%d %b %Y %H:%M} ({training.time_zone})")
    apply = " or ".join(a for a in (training.apply_url, training.apply_email) if a)
    lines.append(f"How to apply: {apply}")
    if training.themes:
        lines.append(f"Themes: {', '.join(_theme_labels(training.themes))}")
    if training.languages:
        lines.append(f"Languages: {', '.join(training.languages)}")
    if training.audience:
        lines.append(f"For: {', '.join(AUDIENCE_LABELS[a] for a in training.audience)}")
    if training.seats:
        lines.append(f"Seats: {training.seats}")
    if training.cost:
        lines.append(f"Cost: {training.cost}")
    return "\n".join([training.description, "", *lines]).strip()


def calendar(trainings: Sequence[schemas.Training], *, issuer: str) -> bytes:
    """One VEVENT per training in its own time zone (with the VTIMEZONE calendars need)."""
    host = urlsplit(issuer).hostname or "msnet"
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//msnet//msnet {msnet.__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "msnet trainings")
    for training in trainings:
        event = icalendar.Event()
        event.add("uid", f"{training.id}@{host}")
        event.add("dtstamp", training.updated_at.astimezone(UTC))
        event.add("created", training.created_at.astimezone(UTC))
        event.add("last-modified", training.updated_at.astimezone(UTC))
        event.add("sequence", training.version - 1)
        event.add("summary", training.title)
        event.add("dtstart", local(training.start, training.time_zone))
        event.add("dtend", local(training.end, training.time_zone))
        event.add("description", details(training))
        if training.format != "online":
            event.add("location", place(training))
        if training.apply_url:
            event.add("url", training.apply_url)
        event.add("categories", [KIND_LABELS[training.kind], *_theme_labels(training.themes)])
        event.add("class", "PUBLIC" if training.sharing == "public" else "CONFIDENTIAL")
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def atom(trainings: Sequence[schemas.Training], *, self_url: str, issuer: str) -> bytes:
    """An Atom feed of trainings, newest first."""
    feed = FeedGenerator()
    feed.id(f"{issuer}/v1/trainings.atom")
    feed.title("msnet trainings")
    feed.subtitle("Training opportunities shared by mediation support offices")
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.author({"name": "msnet"})
    feed.generator("msnet", version=msnet.__version__)
    newest = max((t.updated_at for t in trainings), default=datetime(2000, 1, 1, tzinfo=UTC))
    feed.updated(newest)
    for training in sorted(trainings, key=lambda t: (t.created_at, t.id)):
        entry = feed.add_entry()
        entry.id(f"urn:uuid:{training.id}")
        entry.title(training.title)
        entry.published(training.created_at)
        entry.updated(training.updated_at)
        entry.author({"name": training.organisation.upper()})
        entry.content(details(training), type="text")
        if training.origin != issuer:  # a copy held from a peer node: its home node's feed is the source
            entry.source(
                url=f"{training.origin}/v1/trainings.atom", title=f"msnet trainings at {training.origin}"
            )
        if training.apply_url:
            entry.link(href=training.apply_url, rel="alternate")
        for term in (training.kind, *training.themes):
            entry.category(term=term)
    return feed.atom_str(pretty=True)
