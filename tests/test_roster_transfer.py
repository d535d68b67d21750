"""`msnet roster import` (all rows checked first, nothing written on any error) and the export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, add_organisation, bearer, run_cli, token_for

HEADER = (
    "name,themes,service_types,languages,nationalities,experience,availability,sharing,share_with,email\n"
)
GOOD = [
    "Amina Traoré,ceasefire_security:expert,process_design,fr:native/native/native;en,ML,ML;western_africa,2027-01-01..2027-06-30,network,,amina@example.org",
    "José Pérez,constitution_making,,es;en:fluent/fluent/working,CO,CO,2027-03-01..2027-03-31:remote,public,,",
    "Nadia Haddad,gender_inclusion,coaching,ar;fr,LB,LB;western_asia,,restricted,igad,",
]


async def _roster(client: AsyncTestClient, settings: Settings, slug: str = "au") -> dict:
    token = await token_for(client, await add_client(settings, slug, ["roster:read"]))
    return (await client.get("/v1/experts", headers=bearer(token))).json()


async def test_import_then_export(client: AsyncTestClient, settings: Settings, tmp_path: Path) -> None:
    await add_organisation(settings, "au")
    await add_organisation(settings, "igad")
    source = tmp_path / "roster.csv"
    source.write_text(HEADER + "\n".join(GOOD) + "\n")
    result = run_cli(settings, "roster", "import", str(source), "--org", "au")
    assert result.returncode == 0, result.stderr
    assert "imported 3 experts" in result.stdout
    assert "checked 3/3 rows" in result.stderr
    roster = await _roster(client, settings)
    assert {e["name"] for e in roster["items"]} == {"Amina Traoré", "José Pérez", "Nadia Haddad"}

    token = await token_for(client, await add_client(settings, "eu", ["roster:read"]))
    exported = await client.get("/v1/experts/export", params={"format": "csv"}, headers=bearer(token))
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["name"] for r in rows} == {"Amina Traoré", "José Pérez"}  # the restricted one is igad's to see
    assert "email" not in rows[0]
    amina = next(r for r in rows if r["name"] == "Amina Traoré")
    assert amina["languages"] == "fr:native/native/native;en:working/working/working"
    assert amina["themes"] == "ceasefire_security:expert"
    public = await client.get("/v1/experts/export", params={"format": "json"})
    assert [e["name"] for e in public.json()] == ["José Pérez"]


async def test_one_bad_row_writes_nothing_and_every_error_is_named(
    client: AsyncTestClient, settings: Settings, tmp_path: Path
) -> None:
    await add_organisation(settings, "au")
    bad = [
        GOOD[0],
        "Someone,astrology,,fr,ML,,,network,,",
        "Someone Else,,,zz,XX,,2027-05-01..2027-04-01,network,,",
        ",,,,,,,network,,",
        "Last One,,,,,,,restricted,,",
    ]
    source = tmp_path / "roster.csv"
    source.write_text(HEADER + "\n".join(bad) + "\n")
    result = run_cli(settings, "roster", "import", str(source), "--org", "au")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert any(e.startswith("line 3: expertise.0.term") for e in errors), errors
    assert any(e.startswith("line 4: languages.0.code") for e in errors), errors
    assert any(e.startswith("line 5: name") for e in errors), errors
    assert any(e.startswith("line 6: share_with") for e in errors), errors
    assert "nothing was imported" in result.stderr
    assert (await _roster(client, settings))["total"] == 0
