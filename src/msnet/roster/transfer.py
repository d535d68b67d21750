"""Roster import and export as CSV (and JSON): one expert a row, lists separated by ';'.

Columns: id and external_id (the keys an import matches on), name, bio, seniority, themes,
service_types (``term`` or ``term:level``), languages (``code`` or ``code:read/speak/write``, e.g.
``fr:native/native/fluent``), nationalities, experience (country codes and region ids), availability
(``2027-01-01..2027-06-30``, optionally ``:remote`` or ``:in_person``), affiliations, past_processes,
consent_given_on, consent_purpose, consent_recorded_by, email, phone (import only: contact details
are never exported), sharing, share_with.

An import is all or nothing: every row is checked, column by column, against the roster as it is,
and any mistake (each reported with its row and column) leaves everything unwritten. ``upsert``
updates the expert a row names by external_id (or id) and creates the others; ``create`` only
creates. On an update, a column the file lacks leaves that part of the expert alone, and a row that
would change nothing is left alone: importing a file twice, or an export as it is, changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.principal import Principal
from msnet.errors import InvalidInput
from msnet.organisations.models import Organisation
from msnet.roster import schemas, service
from msnet.roster.models import Expert, ExpertContact

COLUMNS = [
    "id",
    "external_id",
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
CONSENT = {"consent_given_on": "given_on", "consent_purpose": "purpose", "consent_recorded_by": "recorded_by"}
CONTACT = ("email", "phone")
#: The fields of the API's body whose items a column lists, checked one by one.
LISTS = ("expertise", "languages", "nationalities", "experience", "availability")
#: The body's field types, to check each column apart.
TYPES = {f.name: f.type for f in msgspec.structs.fields(schemas.ExpertCreate)}


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Table:
    """A CSV file read: its header and rows, each row numbered as a spreadsheet shows it (the
    header is row 1), cells as written (an export's formula quoting taken off)."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]]


@dataclass
class _Row:
    """A row checked: the body's fields its columns give, and its mistakes."""

    number: int
    fields: dict[str, Any] = field(default_factory=dict)
    id: UUID | None = None
    errors: list[RowError] = field(default_factory=list)

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.number, column, message))


# --- reading CSV ---------------------------------------------------------------------------


#: What makes a spreadsheet program read a cell as a formula (OWASP, "CSV Injection"): an export
#: puts a single quote before a cell that begins with one, and an import takes it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A cell a spreadsheet shows as text: one beginning like a formula gets a leading quote."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _restored(cell: str | None) -> str:
    """A cell as exported before :func:`neutralised` quoted it."""
    if cell and cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell or ""


def decoded(body: bytes) -> str:
    """A file's bytes as text: UTF-8, a byte order mark dropped (a 422 naming ``body`` otherwise)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.field("body", f"is not UTF-8 text (byte {exc.start})") from None


def read_csv(text: str) -> Table:
    """The rows of a roster CSV; a header without ``name``, or with a column this format does not
    have, is a 422 naming ``header``; a row with more cells than the header, one naming the row."""
    if "\x00" in text:
        raise InvalidInput.field("body", "may not contain NUL characters")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column.strip() for column in reader.fieldnames or []]
    problems = [f"unknown column '{c}'" for c in header if c not in COLUMNS]
    problems += [
        f"column '{c}' appears twice" for c in dict.fromkeys(c for c in header if header.count(c) > 1)
    ]
    if "name" not in header:
        problems.append("needs the column 'name'")
    if problems:
        message = f"{'; '.join(problems)} (columns: {', '.join(COLUMNS)})"
        raise InvalidInput("header: " + message, errors=[{"field": "header", "message": message}])
    reader.fieldnames = header
    rows = []
    for number, row in enumerate(reader, start=2):
        if None in row:
            raise InvalidInput.field(f"row {number}", "has more cells than the header has columns")
        rows.append((number, {column: _restored(cell) for column, cell in row.items()}))
    return Table(header, rows)


def _items(cell: str) -> list[str]:
    """A list cell's items: spaces around them dropped (other white space is the item's own, as an
    export writes it)."""
    return [part.strip(" ") for part in cell.split(";") if part.strip()]


def _expertise(kind: str, cell: str) -> list[dict[str, str]]:
    result = []
    for item in _items(cell):
        term, _, level = item.partition(":")
        result.append({"kind": kind, "term": term, **({"level": level} if level else {})})
    return result


def _languages(cell: str) -> list[dict[str, str]]:
    result = []
    for item in _items(cell):
        code, _, skills = item.partition(":")
        entry = {"code": code}
        if skills:
            read, speak, write = ([*skills.split("/"), "", ""])[:3]
            entry |= {k: v for k, v in (("read", read), ("speak", speak), ("write", write)) if v}
        result.append(entry)
    return result


def _windows(cell: str) -> list[dict[str, Any]]:
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


#: How a column becomes (part of) a field of the body: (column, field, the cell's raw value).
_CELLS: list[tuple[str, str, Callable[[str], Any]]] = [
    ("external_id", "external_id", lambda c: c.strip() or None),
    ("name", "name", lambda c: c),
    ("bio", "bio", lambda c: c),
    ("seniority", "seniority", lambda c: c.strip() or None),
    ("themes", "expertise", lambda c: _expertise("theme", c)),
    ("service_types", "expertise", lambda c: _expertise("service_type", c)),
    ("languages", "languages", _languages),
    ("nationalities", "nationalities", _items),
    ("experience", "experience", _items),
    ("availability", "availability", _windows),
    ("affiliations", "affiliations", _items),
    ("past_processes", "past_processes", _items),
    ("sharing", "sharing", lambda c: c.strip() or "network"),
    ("share_with", "share_with", _items),
]


def _message(exc: msgspec.ValidationError) -> tuple[str, str]:
    """A validation error's message and where in the value it was ('' at the top)."""
    message, _, path = str(exc).partition(" - at `$")
    return message, path.rstrip("`")


_BAD = object()


def _label(item: Any) -> str:
    """An item of a list cell as the file wrote it, about."""
    if isinstance(item, dict):
        return ":".join(str(item[k]) for k in ("term", "code", "start") if k in item)
    return str(item)[:60]


def _checked(row: _Row, column: str, name: str, value: Any) -> Any:
    """``value`` as the body's field ``name``, each item of a list checked apart (its shape, then
    the taxonomy), every mistake noted against ``column``; ``_BAD`` when there was one."""
    if name not in LISTS:
        try:
            converted = msgspec.convert(value, TYPES[name])
        except msgspec.ValidationError as exc:
            row.error(column, _message(exc)[0])
            return _BAD
        return converted
    good: list[tuple[int, Any]] = []  # (position in the cell, item)
    for i, item in enumerate(value):
        where = f"item {i + 1} ('{_label(item)}')"
        try:
            converted = msgspec.convert([item], TYPES[name])
            service.validated_changes(schemas.ExpertUpdate(**{name: converted}))
        except msgspec.ValidationError as exc:
            message, path = _message(exc)
            inner = path.removeprefix("[0]").lstrip(".")
            row.error(column, f"{where}{' ' + inner if inner else ''}: {message}")
            continue
        except InvalidInput as exc:
            for e in exc.errors:
                row.error(column, f"{where}: {e['message']}")
            continue
        good.append((i, converted[0]))
    if name == "availability" and len(good) > 1:  # each window may be right and overlap another
        try:
            service.validated_changes(schemas.ExpertUpdate(availability=[w for _, w in good]))
        except InvalidInput as exc:
            for e in exc.errors:
                row.error(column, f"item {good[int(e['field'].split('.')[1])][0] + 1}: {e['message']}")
            return _BAD
    if len(good) < len(value):
        return _BAD
    return [item for _, item in good]


def _parse(number: int, cells: dict[str, str], header: list[str]) -> _Row:
    """A row's fields, each column checked apart so that every mistake of the row is found."""
    row = _Row(number)
    if cells.get("id", "").strip():
        try:
            row.id = UUID(cells["id"].strip())
        except ValueError:
            row.error("id", f"'{cells['id'][:60]}' is not an expert's id")
    for column, name, raw in _CELLS:
        if column not in header:
            continue
        value = _checked(row, column, name, raw(cells[column]))
        if value is _BAD:
            continue
        row.fields[name] = [*row.fields.get(name, []), *value] if name == "expertise" else value
    if CONSENT.keys() & set(header):
        given = {key: cells.get(column, "") for column, key in CONSENT.items()}
        missing = [column for column, key in CONSENT.items() if not given[key]]
        if not any(given.values()):
            row.fields["consent"] = None
        elif missing:
            for column in missing:
                row.error(column, "is required with the other consent columns")
        else:
            try:
                row.fields["consent"] = msgspec.convert(given, schemas.Consent)
            except msgspec.ValidationError as exc:
                message, path = _message(exc)
                row.error(next(c for c, k in CONSENT.items() if k == path.lstrip(".")), message)
    for column in CONTACT:
        if column in header and cells[column]:
            try:
                msgspec.convert({column: cells[column]}, schemas.Contact)
            except msgspec.ValidationError as exc:
                row.error(column, _message(exc)[0])
    return row


# --- importing -----------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value), sort_keys=True, default=str)


def _differs(name: str, new: Any, old: Any) -> bool:
    """Whether a validated field would change the stored value (expertise is a set of terms)."""
    if name == "expertise":
        return sorted(map(_canonical, new)) != sorted(map(_canonical, old))
    return _canonical(new) != _canonical(old)


@dataclass
class _Plan:
    row: _Row
    expert: Expert | None = None
    changed: list[str] = field(default_factory=list)
    contact: schemas.Contact | None = None


async def _existing(
    session: AsyncSession, principal: Principal, rows: list[_Row], lock: bool
) -> tuple[dict[UUID, Expert], dict[str, Expert]]:
    """The caller's experts the rows name, by id and by external_id (locked for the writes)."""
    ids = {r.id for r in rows if r.id}
    external = {r.fields["external_id"] for r in rows if r.fields.get("external_id")}
    if not ids and not external:
        return {}, {}
    query = select(Expert).where(
        Expert.organisation_id == principal.org_id,
        Expert.deleted_at.is_(None),
        or_(Expert.id.in_(ids), Expert.external_id.in_(external)),
    )
    experts = list(await session.scalars(query.with_for_update() if lock else query))
    return {e.id: e for e in experts}, {e.external_id: e for e in experts if e.external_id}


def _match(
    row: _Row,
    mode: schemas.ImportMode,
    principal: Principal,
    by_id: dict[UUID, Expert],
    by_external: dict[str, Expert],
) -> Expert | None:
    """The expert a row updates (none: it creates one), by external_id first, then id; a key
    naming another of the caller's experts, or none of them, is the row's mistake. Another
    organisation's experts are never looked at."""
    external = row.fields.get("external_id")
    if mode == "create":
        if row.id:
            row.error("id", "names an expert to update: creating makes new ones (use upsert)")
        if external in by_external:
            row.error(
                "external_id", f"'{external}' is already expert {by_external[external].id}'s (use upsert)"
            )
        return None
    if external in by_external:
        target = by_external[external]
        if row.id and row.id != target.id:
            row.error("external_id", f"'{external}' is expert {target.id}'s, not {row.id}'s")
        return target
    if row.id:
        if row.id not in by_id:
            row.error("id", f"no expert {row.id} on the roster of '{principal.org_slug}'")
        return by_id.get(row.id)
    if not external:
        row.error("external_id", "upsert needs an external_id or an id to match on (or use create)")
    return None


def _check_duplicates(plans: list[_Plan]) -> None:
    """No two rows may name the same external_id, the same id or the same expert."""
    seen: dict[Any, int] = {}
    for plan in plans:
        row = plan.row
        for column, key in (
            ("external_id", ("x", row.fields.get("external_id"))),
            ("id", ("i", row.id)),
            ("id" if row.id else "external_id", ("e", plan.expert.id if plan.expert else None)),
        ):
            if key[1] is None:
                continue
            if key in seen and seen[key] != row.number:
                what = f"'{key[1]}'" if key[0] == "x" else f"expert {key[1]}"
                row.error(column, f"{what} is also on row {seen[key]}")
                break
            seen.setdefault(key, row.number)


def _check_sharing(row: _Row, sharing: str, share_with: list[str], known: dict[str, UUID]) -> None:
    if sharing == "restricted" and not share_with:
        row.error("share_with", "name at least one organisation for sharing 'restricted'")
    if sharing != "restricted" and share_with:
        row.error("share_with", "is only for sharing 'restricted'")
    for slug in share_with:
        if slug not in known:
            row.error("share_with", f"no organisation '{slug}'")


def _plan_update(
    plan: _Plan,
    header: list[str],
    cells: dict[str, str],
    known: dict[str, UUID],
    contacts: dict[UUID, ExpertContact],
) -> None:
    """What a row would change of its expert (the fields that differ); the rules a change must keep
    checked on the expert as it would be (``contacts``: the stored contact details by expert)."""
    row, expert = plan.row, plan.expert
    assert expert is not None
    fields = row.fields
    sharing = fields.get("sharing", expert.sharing)
    if "share_with" in fields:
        share_with = fields["share_with"]
    else:
        slugs = {i: s for s, i in known.items()}
        share_with = [slugs[i] for i in expert.share_with] if sharing == "restricted" else []
    _check_sharing(row, sharing, share_with, known)
    changes = service.validated_changes(schemas.ExpertUpdate(**fields))
    plan.changed = [
        name
        for name in fields
        if name != "share_with" and _differs(name, changes[name], getattr(expert, name))
    ]
    if "share_with" in fields and sorted(str(known[s]) for s in share_with) != sorted(
        map(str, expert.share_with)
    ):
        plan.changed.append("share_with")  # without the column, a change of sharing brings its own
    touches_contact = bool(set(CONTACT) & set(header))
    if touches_contact or {"sharing", "consent"} & set(plan.changed):
        stored = contacts.get(expert.id)
        contact = schemas.Contact(email=stored.email, phone=stored.phone) if stored else schemas.Contact()
        if touches_contact:
            wanted = schemas.Contact(
                **{k: (cells[k] or None) if k in header else getattr(contact, k) for k in CONTACT}
            )
            if wanted != contact:
                plan.changed.append("contact")
                plan.contact = contact = wanted
        if {"sharing", "consent", "contact"} & set(plan.changed):
            consent = changes["consent"] if "consent" in fields else expert.consent
            _check_consent(row, sharing, consent, contact)


def _plan_create(plan: _Plan, header: list[str], cells: dict[str, str], known: dict[str, UUID]) -> None:
    row = plan.row
    sharing = row.fields.get("sharing", "network")
    _check_sharing(row, sharing, row.fields.get("share_with", []), known)
    contact = schemas.Contact(**{k: cells[k] or None for k in CONTACT if k in header})
    plan.contact = contact if service.has_contact(contact) else None
    _check_consent(row, sharing, row.fields.get("consent"), contact)


def _check_consent(row: _Row, sharing: str, consent: object, contact: schemas.Contact) -> None:
    if {e.column for e in row.errors} & {*CONSENT, *CONTACT}:
        return  # the consent or the contact has a mistake of its own
    try:
        service.check_consent(sharing, consent, service.has_contact(contact))
    except InvalidInput as exc:
        row.error("consent_given_on", exc.extra["errors"][0]["message"])


async def import_roster(
    session: AsyncSession,
    principal: Principal,
    text: str,
    *,
    origin: str,
    mode: schemas.ImportMode | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> schemas.ImportReport:
    """Import a roster CSV into the caller's roster, all or nothing (see the module's docstring);
    ``mode`` by default: upsert when a row has an external_id or an id, create otherwise. Every
    mistake is a 422 naming its row and column; a dry run writes nothing and reports what would be
    done. Each expert created or changed has its audit entry, and the import one of its own."""
    table = read_csv(text)
    header = table.header
    chosen: schemas.ImportMode = mode or (
        "upsert" if any(c.get("id") or c.get("external_id") for _, c in table.rows) else "create"
    )
    known = dict((await session.execute(select(Organisation.slug, Organisation.id))).all())
    rows = [_parse(number, cells, header) for number, cells in table.rows]
    cells_of = dict(table.rows)
    by_id, by_external = await _existing(session, principal, rows, lock=not dry_run)
    matched = [e.id for e in by_id.values()] + [e.id for e in by_external.values()]
    contacts = {
        c.expert_id: c
        for c in await session.scalars(select(ExpertContact).where(ExpertContact.expert_id.in_(matched)))
    }
    plans = [_Plan(row, _match(row, chosen, principal, by_id, by_external)) for row in rows]
    _check_duplicates(plans)
    for plan in plans:  # rows with mistakes too: what they have right is checked further
        if plan.expert is None:
            _plan_create(plan, header, cells_of[plan.row.number], known)
        else:
            _plan_update(plan, header, cells_of[plan.row.number], known, contacts)
    if progress:
        progress(f"checked {len(rows)} rows")
    errors = [e for row in rows for e in row.errors]
    if errors:
        raise InvalidInput(
            f"{len(errors)} error(s) in {len({e.row for e in errors})} of {len(rows)} rows; nothing was imported",
            errors=[{"field": f"row {e.row}, {e.column}", "message": e.message} for e in errors],
        )
    report = schemas.ImportReport(mode=chosen, dry_run=dry_run, created=[], updated=[], unchanged=[])
    await _create(session, principal, [p for p in plans if p.expert is None], known, report, dry_run, origin)
    if progress and report.created:
        progress(f"{'planned' if dry_run else 'created'} {len(report.created)} experts")
    changes = [p for p in plans if p.expert is not None]
    for done, plan in enumerate(changes, start=1):
        await _update(session, principal, plan, report, dry_run=dry_run)
        if progress and (done % 100 == 0 or done == len(changes)):
            progress(
                f"{'planned' if dry_run else 'imported'} {done}/{len(changes)} rows of experts on the roster"
            )
    if not dry_run:
        await record_action(
            session,
            principal,
            "roster.import",
            "roster",
            None,
            {"mode": chosen, **{k: len(getattr(report, k)) for k in ("created", "updated", "unchanged")}},
        )
    return report


async def _create(
    session: AsyncSession,
    principal: Principal,
    plans: list[_Plan],
    known: dict[str, UUID],
    report: schemas.ImportReport,
    dry_run: bool,
    origin: str,
) -> None:
    """The rows' new experts, written together (a round trip or two for the lot, an audit entry
    each)."""
    data = [schemas.ExpertCreate(**{**plan.row.fields, "contact": plan.contact}) for plan in plans]
    new = [
        (d, service.validated_changes(d) | {"share_with": [known[s] for s in dict.fromkeys(d.share_with)]})
        for d in data
    ]
    made = [None] * len(plans) if dry_run else await service.add_experts(session, principal, new, origin)
    report.created.extend(
        schemas.ImportedExpert(
            row=plan.row.number, id=expert.id if expert else None, external_id=d.external_id, name=d.name
        )
        for plan, d, expert in zip(plans, data, made, strict=True)
    )


async def _update(
    session: AsyncSession,
    principal: Principal,
    plan: _Plan,
    report: schemas.ImportReport,
    *,
    dry_run: bool,
) -> None:
    row, expert = plan.row, plan.expert
    assert expert is not None
    entry = schemas.ImportedExpert(
        row=row.number,
        id=expert.id,
        external_id=row.fields.get("external_id", expert.external_id),
        name=row.fields.get("name", expert.name),
        changed=plan.changed,
    )
    if not plan.changed:
        report.unchanged.append(entry)
        return
    report.updated.append(entry)
    if dry_run:
        return
    data = schemas.ExpertUpdate(
        **{n: plan.contact if n == "contact" else row.fields[n] for n in plan.changed}
    )
    await service.change_expert(session, principal, expert, data, service.validated_changes(data))


# --- exporting -----------------------------------------------------------------------------


def to_csv(experts: Iterable[schemas.Expert]) -> str:
    """The experts as CSV: ``external_id`` is the caller's own experts' only (others' are empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORTED, lineterminator="\r\n")  # RFC 4180: quotes any CR or LF
    writer.writeheader()
    for e in experts:
        row = {
            "id": str(e.id),
            "external_id": e.external_id or "",
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
