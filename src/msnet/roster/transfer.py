"""Roster import and export as CSV (and JSON): one expert a row, lists separated by ';'.

Columns: name, bio, seniority, themes, service_types (``term`` or ``term:level``), languages
(``code`` or ``code:read/speak/write``, e.g. ``fr:native/native/fluent``), nationalities,
experience (country codes and region ids), availability (``2027-01-01..2027-06-30``, optionally
``:remote`` or ``:in_person``), affiliations, past_processes, consent_given_on, consent_purpose,
consent_recorded_by, email, phone (import only: contact details are never exported), sharing,
share_with.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from msnet.errors import InvalidInput
from msnet.roster import schemas, service

COLUMNS = [
    "name",
    "bio",
    "seniority",
    "themes",
    "service_types",
    "languages",
    "nationalities",
    "experience",
    "availability",
    "affiliations",
    "past_processes",
    "consent_given_on",
    "consent_purpose",
    "consent_recorded_by",
    "email",
    "phone",
    "sharing",
    "share_with",
]
EXPORTED = [c for c in COLUMNS if c not in ("email", "phone")]


class RowError(msgspec.Struct):
    line: int
    field: str
    message: str


def _items(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _expertise(row: dict[str, str]) -> list[dict[str, str]]:
    result = []
    for kind, column in (("theme", "themes"), ("service_type", "service_types")):
        for item in _items(row.get(column)):
            term, _, level = item.partition(":")
            result.append({"kind": kind, "term": term, **({"level": level} if level else {})})
    return result


def _languages(cell: str | None) -> list[dict[str, str]]:
    result = []
    for item in _items(cell):
        code, _, skills = item.partition(":")
        entry = {"code": code}
        if skills:
            read, speak, write = ([*skills.split("/"), "", ""])[:3]
            entry |= {k: v for k, v in (("read", read), ("speak", speak), ("write", write)) if v}
        result.append(entry)
    return result


def _windows(cell: str | None) -> list[dict[str, Any]]:
    result = []
    for item in _items(cell):
        span, _, mode = item.partition(":")
        start, _, end = span.partition("..")
        result.append(
            {
                "start": start,
                "end": end or start,
                "remote": mode != "in_person",
                "in_person": mode != "remote",
            }
        )
    return result


def row_to_create(row: dict[str, str]) -> schemas.ExpertCreate:
    """One CSV row as the API's create body (raises msgspec.ValidationError or InvalidInput)."""
    consent = None
    if row.get("consent_given_on"):
        consent = {
            "given_on": row["consent_given_on"],
            "purpose": row.get("consent_purpose", ""),
            "recorded_by": row.get("consent_recorded_by", ""),
        }
    contact = {k: row[k] for k in ("email", "phone") if row.get(k)}
    body = {
        "name": row.get("name", ""),
        "bio": row.get("bio", ""),
        "seniority": row.get("seniority") or None,
        "expertise": _expertise(row),
        "languages": _languages(row.get("languages")),
        "nationalities": _items(row.get("nationalities")),
        "experience": _items(row.get("experience")),
        "availability": _windows(row.get("availability")),
        "affiliations": _items(row.get("affiliations")),
        "past_processes": _items(row.get("past_processes")),
        "consent": consent,
        "contact": contact or None,
        "sharing": row.get("sharing") or "network",
        "share_with": _items(row.get("share_with")),
    }
    return msgspec.convert(body, schemas.ExpertCreate)


def validate(
    rows: Iterable[dict[str, str]],
    check_sharing: Callable[[schemas.ExpertCreate], None],
    progress: Callable[[int], None],
) -> tuple[list[schemas.ExpertCreate], list[RowError]]:
    """Every row checked (shape, taxonomy, windows, sharing); every error kept with its line."""
    creates: list[schemas.ExpertCreate] = []
    errors: list[RowError] = []
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        unknown = sorted(set(row) - set(COLUMNS) - {""})
        if unknown or None in row:
            errors.append(RowError(n, ",".join(unknown) or "row", "unknown column or too many cells"))
            continue
        try:
            create = row_to_create(row)
            service.validated_changes(create)
            check_sharing(create)
        except msgspec.ValidationError as exc:
            message, _, path = str(exc).partition(" - at `$")
            errors.append(RowError(n, path.strip("`.").replace("[", ".").replace("]", "") or "row", message))
            continue
        except InvalidInput as exc:
            for e in exc.extra.get("errors") or [{"field": "row", "message": exc.detail}]:
                errors.append(RowError(n, e["field"], e["message"]))
            continue
        creates.append(create)
        progress(n - 1)
    return creates, errors


#: What makes a spreadsheet program read a cell as a formula (OWASP, "CSV Injection"): an export
#: puts a single quote before a cell that begins with one, and an import takes it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A cell a spreadsheet shows as text: one beginning like a formula gets a leading quote."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _restored(cell: str | None) -> str | None:
    """A cell as exported before :func:`neutralised` quoted it."""
    if cell and cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def read_csv(text: str) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("name",) if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput.field(
            "header", f"needs the column(s) {', '.join(missing)}; columns: {', '.join(COLUMNS)}"
        )
    for row in reader:
        yield {column: _restored(cell) for column, cell in row.items()}  # type: ignore[misc]


def to_csv(experts: Iterable[schemas.Expert]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORTED, lineterminator="\r\n")  # RFC 4180: quotes any CR or LF
    writer.writeheader()
    for e in experts:
        row = {
            "name": e.name,
            "bio": e.bio,
            "seniority": e.seniority or "",
            "themes": ";".join(f"{x.term}:{x.level}" for x in e.expertise if x.kind == "theme"),
            "service_types": ";".join(f"{x.term}:{x.level}" for x in e.expertise if x.kind == "service_type"),
            "languages": ";".join(f"{s.code}:{s.read}/{s.speak}/{s.write}" for s in e.languages),
            "nationalities": ";".join(e.nationalities),
            "experience": ";".join(e.experience),
            "availability": ";".join(
                f"{w.start}..{w.end}"
                + ("" if w.remote and w.in_person else ":remote" if w.remote else ":in_person")
                for w in e.availability
            ),
            "affiliations": ";".join(e.affiliations),
            "past_processes": ";".join(e.past_processes),
            "consent_given_on": str(e.consent.given_on) if e.consent else "",
            "consent_purpose": e.consent.purpose if e.consent else "",
            "consent_recorded_by": e.consent.recorded_by if e.consent else "",
            "sharing": e.sharing,
            "share_with": ";".join(e.share_with),
        }
        writer.writerow({column: neutralised(cell) for column, cell in row.items()})
    return out.getvalue()
