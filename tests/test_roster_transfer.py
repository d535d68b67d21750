"""`msnet roster import`: --dry-run, then the import, all or nothing, every mistake printed with its
row and column (updates, round trips and the rest are tested through the API, which runs the same
importer: tests/roster/test_import.py)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, add_organisation, bearer, run_cli, token_for

HEADER = "external_id,name,themes,languages,experience,sharing,share_with,email,consent_given_on,consent_purpose,consent_recorded_by\n"
CONSENT = "2026-10-01,AU roster,AU MSU"
GOOD = [
    f"AU-1,Amina Traoré,ceasefire_security:expert,fr:native/native/native;en,ML;western_africa,network,,amina@example.org,{CONSENT}",
    "AU-2,José Pérez,constitution_making,es;en:fluent/fluent/working,CO,public,,,,,",
    "AU-3,Nadia Haddad,gender_inclusion,ar;fr,LB;western_asia,restricted,igad,,,,",
]


async def _roster(client: AsyncTestClient, settings: Settings) -> dict[str, dict]:
    token = await token_for(client, await add_client(settings, "au", ["roster:read"]))
    items = (await client.get("/v1/experts", headers=bearer(token))).json()["items"]
    return {e["name"]: e for e in items}


async def test_the_import_creates_by_external_id_and_a_dry_run_lists_changes_and_writes_nothing(
    client: AsyncTestClient, settings: Settings, tmp_path: Path
) -> None:
    await add_organisation(settings, "au")
    await add_organisation(settings, "igad")
    source = tmp_path / "roster.csv"
    source.write_text(HEADER + "\n".join(GOOD) + "\n")
    done = run_cli(settings, "roster", "import", str(source), "--org", "au")
    assert done.returncode == 0, done.stderr
    assert "imported (upsert): 3 created, 0 updated, 0 unchanged" in done.stdout
    made = await _roster(client, settings)
    assert {e["external_id"] for e in made.values()} == {"AU-1", "AU-2", "AU-3"}
    assert f"row 2: created {made['Amina Traoré']['id']} AU-1 Amina Traoré" in done.stdout

    source.write_text(HEADER + "\n".join([GOOD[0], GOOD[1].replace("José Pérez", "José Pérez Gil"), GOOD[2]]))
    dry = run_cli(settings, "roster", "import", str(source), "--org", "au", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"row 3: updated {made['José Pérez']['id']} AU-2 José Pérez Gil (name)" in dry.stdout
    assert f"row 2: unchanged {made['Amina Traoré']['id']} AU-1 Amina Traoré" in dry.stdout
    assert "would be 0 created, 1 updated, 2 unchanged" in dry.stdout
    assert "nothing was written" in dry.stdout
    assert await _roster(client, settings) == made


async def test_every_mistake_is_printed_with_its_row_and_column_and_nothing_is_written(
    client: AsyncTestClient, settings: Settings, tmp_path: Path
) -> None:
    await add_organisation(settings, "au")
    bad = [
        GOOD[0],
        "AU-1,Someone,astrology,zz,XX,network,,,,,",  # AU-1 again, a theme, a language and a place unknown
        ",X,,fr,,restricted,,,,,",  # no key for upsert, a name too short, restricted to nobody
        "AU-4,Last One,,,,network,,last@example.org,,,",  # contact shared with the network, no consent
    ]
    source = tmp_path / "roster.csv"
    source.write_text(HEADER + "\n".join(bad) + "\n")
    result = run_cli(settings, "roster", "import", str(source), "--org", "au")
    assert result.returncode == 1
    printed = {line.split(":", 1)[0] for line in result.stderr.splitlines() if line.startswith("row ")}
    assert printed == {
        "row 3, external_id",
        "row 3, themes",
        "row 3, languages",
        "row 3, experience",
        "row 4, external_id",
        "row 4, name",
        "row 4, share_with",
        "row 5, consent_given_on",
    }, result.stderr
    assert "8 error(s) in 3 of 4 rows; nothing was imported" in result.stderr
    assert await _roster(client, settings) == {}
