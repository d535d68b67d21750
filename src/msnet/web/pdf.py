"""An office's quarter as a PDF for decision-makers (fpdf2, pure Python): a cover, the key figures,
the charts drawn as bars with their numbers, and the delivered engagements the office chose.

The PDF's core fonts know the Windows-1252 letters (English and French); any other letter is
written as '?'."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from msnet.web import i18n
from msnet.web.charts import STYLE, Chart

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "Helvetica"


@dataclass
class Engagement:
    """A delivered request the report may list: its id, title and when it closed (formatted)."""

    id: UUID
    title: str
    closed: str


@dataclass
class Quarter:
    """An office's quarter for decision-makers: who, when, the key figures, the charts and the
    engagements chosen."""

    organisation: str
    office: str | None
    name: str
    first: date
    last: date
    key_figures: list[tuple[str, float | None, float | None]]
    charts: list[Chart]
    engagements: list[Engagement]
    chosen: list[Engagement]


def _text(value: str) -> str:
    normal = unicodedata.normalize("NFC", value)
    return normal.encode("cp1252", "replace").decode("cp1252")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _figure(value: float | None) -> str:
    return "-" if value is None else i18n.format_number(value)


def _chart(doc: FPDF, chart: Chart) -> None:
    """Horizontal bars, a group a line, each series' value written beside its bar."""
    doc.set_font(FONT, "B", 12)
    doc.multi_cell(0, 7, _text(chart.title), new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, "", 9)
    largest = max((v or 0 for _, values in chart.series for v in values), default=0) or 1
    width = doc.epw - 70
    for (name, _values), colour in zip(chart.series, STYLE.colors, strict=False):
        doc.set_fill_color(*_rgb(colour))
        doc.rect(doc.get_x(), doc.get_y() + 1, 4, 4, style="F")
        doc.set_x(doc.get_x() + 6)
        doc.cell(50, 6, _text(name), new_x="RIGHT")
    doc.ln(8)
    for group, values in chart.rows:
        doc.cell(45, 5, _text(group)[:28])
        x = doc.get_x()
        for value, colour in zip(values, STYLE.colors, strict=False):
            length = width * (value or 0) / largest
            doc.set_fill_color(*_rgb(colour))
            if length:
                doc.rect(x, doc.get_y() + 0.5, length, 2, style="F")
            doc.set_xy(x + length + 1, doc.get_y())
            doc.cell(15, 3, _figure(value))
            doc.set_xy(x, doc.get_y() + 2.5)
        doc.ln(3)
    doc.ln(4)


def quarter(report: Quarter) -> bytes:
    # imported here: fpdf2 takes a tenth of msnet's import (its fonts' tables), which every
    # `msnet serve`, worker and command would pay at start for a page few of them render
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_title(_text(f"{report.organisation}: {report.name}"))
    doc.set_author("msnet")
    doc.set_margins(18, 18, 18)
    doc.set_auto_page_break(True, 18)
    doc.add_page()
    doc.set_font(FONT, "B", 26)
    doc.ln(50)
    doc.multi_cell(0, 12, _text(report.organisation), new_x="LMARGIN", new_y="NEXT")
    if report.office:
        doc.set_font(FONT, "", 18)
        doc.multi_cell(0, 10, _text(report.office), new_x="LMARGIN", new_y="NEXT")
    doc.ln(6)
    doc.set_font(FONT, "", 16)
    doc.multi_cell(
        0,
        9,
        _text(
            i18n.gettext(
                "Track record, %(quarter)s (%(first)s to %(last)s)",
                quarter=report.name,
                first=i18n.format_date(report.first),
                last=i18n.format_date(report.last),
            )
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.add_page()
    doc.set_font(FONT, "B", 16)
    doc.cell(0, 10, _text(i18n.gettext("Key figures")), new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, "B", 10)
    doc.cell(80, 7, "", border="B")
    doc.cell(45, 7, _text(i18n.gettext("As requester")), border="B", align="R")
    doc.cell(45, 7, _text(i18n.gettext("As provider")), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, "", 10)
    for title, asked, received in report.key_figures:
        doc.cell(80, 7, _text(title), border="B")
        doc.cell(45, 7, _figure(asked), border="B", align="R")
        doc.cell(45, 7, _figure(received), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    doc.ln(8)
    for chart in report.charts:
        _chart(doc, chart)
    doc.set_font(FONT, "B", 16)
    doc.cell(0, 10, _text(i18n.gettext("Engagements delivered")), new_x="LMARGIN", new_y="NEXT")
    doc.set_font(FONT, "", 10)
    if not report.chosen:
        doc.multi_cell(
            0, 6, _text(i18n.gettext("None chosen for this report.")), new_x="LMARGIN", new_y="NEXT"
        )
    for engagement in report.chosen:
        doc.multi_cell(
            0,
            6,
            _text(f"- {engagement.title} ({engagement.closed})"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(doc.output())
