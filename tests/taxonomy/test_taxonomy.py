"""The taxonomy: data files, the lookups other domains use, check(), GET /v1/taxonomy, and build.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pycountry
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet.errors import InvalidInput
from msnet.problems import EXCEPTION_HANDLERS
from msnet.taxonomy import build, service
from msnet.taxonomy.routes import TaxonomyController

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LISTS = ("service_types", "themes", "regions", "countries", "languages")

ISSUE_SERVICE_TYPES = {
    "advisory_support",
    "process_design",
    "conflict_analysis",  # strategy and conflict analysis
    "mediator_briefing",  # envoy and mediator briefing
    "envoy_handover",
    "coaching",
    "debriefing",  # debriefing and lessons learned
    "capacity_building",  # capacity building and training
    "thematic_expertise",
    "technical_support",  # technical, logistical and facilitation support
    "knowledge_management",
}
ISSUE_ADVISORY_CHILDREN = {
    "process_design",
    "conflict_analysis",
    "mediator_briefing",
    "envoy_handover",
    "coaching",
    "debriefing",
}
ISSUE_THEMES = {
    "ceasefire_security",
    "constitution_making",
    "power_sharing",
    "gender_inclusion",
    "civil_society_youth",
    "media_communication",  # media, communication and social media
    "digital_conflict",
    "natural_resources",  # natural resources and environment
    "transhumance",
    "transitional_justice",
    "local_mediation",  # local and subnational mediation
    "early_warning",
    "electoral_violence",  # electoral violence prevention
    "humanitarian_mediation",
}
IGAD = {"DJ", "ET", "KE", "SO", "SS", "SD", "UG"}  # Eritrea withdrew on 12 December 2025
EAC = {"BI", "CD", "KE", "RW", "SO", "SS", "TZ", "UG"}
MEMBER_COUNTS = {
    "au": 55,
    "eu": 27,
    "osce": 57,
    "oas": 34,
    "igad": 7,
    "eac": 8,
    "eccas": 10,
    "oic": 57,
    "commonwealth": 56,
    "un": 193,
}


# --- the data files -------------------------------------------------------------------------------


def test_the_data_files_load_into_one_frozen_taxonomy() -> None:
    whole = service.taxonomy()
    assert whole is service.taxonomy()  # loaded once
    assert re.fullmatch(r"\d{4}-\d{2}-\d+", whole.version)
    for kind in LISTS:
        assert getattr(whole, kind), kind
        assert isinstance(getattr(whole, kind), tuple)
    with pytest.raises(AttributeError):
        whole.themes[0].id = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("kind", LISTS)
def test_every_file_has_a_version_and_unique_ids(kind: str) -> None:
    data = service._read(kind)  # type: ignore[arg-type]
    assert re.fullmatch(r"\d{4}-\d{2}-\d+", data.version)
    ids = [term.id for term in data.terms]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("kind", ["service_types", "themes", "regions"])
def test_term_ids_are_short_snake_case(kind: str) -> None:
    for term in getattr(service.taxonomy(), kind):
        assert SNAKE_CASE.fullmatch(term.id), term.id
        assert len(term.id) <= 30, term.id


def test_country_and_language_ids_are_iso_codes() -> None:
    whole = service.taxonomy()
    assert all(re.fullmatch(r"[A-Z]{2}", c.id) for c in whole.countries)
    assert all(re.fullmatch(r"[a-z]{2}|[a-z]{3}", lang.id) for lang in whole.languages)


@pytest.mark.parametrize("kind", LISTS)
def test_every_term_has_an_english_and_a_french_label(kind: str) -> None:
    for term in getattr(service.taxonomy(), kind):
        assert term.label.en.strip(), term.id
        assert term.label.fr.strip(), term.id


def test_an_inconsistent_taxonomy_is_refused() -> None:
    whole = service.taxonomy()
    themes = whole.themes
    twice = msgspec.structs.replace(whole, themes=(*themes, themes[0]))
    with pytest.raises(service.TaxonomyDataError, match="listed twice"):
        service._index_of(twice)
    orphan = msgspec.structs.replace(whole.service_types[1], id="orphan", parent="no_such_parent")
    with pytest.raises(service.TaxonomyDataError, match="not a top-level type"):
        service._index_of(msgspec.structs.replace(whole, service_types=(*whole.service_types, orphan)))
    lost = msgspec.structs.replace(whole.countries[0], region="atlantis")
    with pytest.raises(service.TaxonomyDataError, match="not an M49 area"):
        service._index_of(msgspec.structs.replace(whole, countries=(lost, *whole.countries[1:])))


# --- service types and themes ---------------------------------------------------------------------


def test_the_issues_service_types_are_all_there() -> None:
    assert ISSUE_SERVICE_TYPES - service.service_type_ids() == set()


def test_service_types_are_a_two_level_tree() -> None:
    types = {t.id: t for t in service.taxonomy().service_types}
    for term in types.values():
        if term.parent is not None:
            assert types[term.parent].parent is None, term.id
    assert set(service.children_of("advisory_support")) >= ISSUE_ADVISORY_CHILDREN
    assert all(types[c].parent == "advisory_support" for c in service.children_of("advisory_support"))
    assert service.children_of("process_design") == ()
    assert service.children_of("capacity_building") == ()
    with pytest.raises(KeyError):
        service.children_of("no_such_type")


def test_the_issues_themes_are_all_there() -> None:
    assert ISSUE_THEMES - service.theme_ids() == set()
    assert "ceasefire_security" in service.theme_ids()


# --- countries, regions, organisations ------------------------------------------------------------


def test_there_is_a_country_for_every_iso_3166_1_code() -> None:
    assert len(service.country_codes()) == len(pycountry.countries)
    assert service.country_codes() == {c.alpha_2 for c in pycountry.countries}


@pytest.mark.parametrize(
    ("code", "region", "sub_region", "intermediate_region"),
    [
        ("FR", "europe", "western_europe", None),
        ("CF", "africa", "sub_saharan_africa", "middle_africa"),
        ("SS", "africa", "sub_saharan_africa", "eastern_africa"),
        ("KE", "africa", "sub_saharan_africa", "eastern_africa"),
        ("CO", "americas", "latin_america_caribbean", "south_america"),
        ("LY", "africa", "northern_africa", None),
    ],
)
def test_countries_have_their_m49_region_and_sub_region(
    code: str, region: str, sub_region: str, intermediate_region: str | None
) -> None:
    country = next(c for c in service.taxonomy().countries if c.id == code)
    assert (country.region, country.sub_region, country.intermediate_region) == (
        region,
        sub_region,
        intermediate_region,
    )
    expected = tuple(a for a in (intermediate_region, sub_region, region) if a)
    assert service.regions_of(code) == expected
    assert service.regions_of(code.lower()) == expected
    for area in expected:
        assert code in service.countries_in(area)


def test_regions_are_the_m49_areas_with_their_codes() -> None:
    regions = {r.id: r for r in service.taxonomy().regions}
    assert regions["africa"].m49 == "002"
    assert regions["eastern_africa"].m49 == "014"
    assert regions["eastern_africa"].parent == "sub_saharan_africa"
    assert regions["eastern_africa"].level == "intermediate_region"
    assert regions["sub_saharan_africa"].label.fr == "Afrique subsaharienne"
    assert {r.id for r in regions.values() if r.level == "region"} == {
        "africa",
        "americas",
        "asia",
        "europe",
        "oceania",
    }
    assert service.region_ids() == set(regions)
    # every country with a region is in it, and in nothing else at that level
    every = service.country_codes()
    assert service.countries_in("africa") | service.countries_in("americas") | service.countries_in(
        "asia"
    ) | service.countries_in("europe") | service.countries_in("oceania") == every - {"AQ"}
    assert service.regions_of("AQ") == ()


def test_igad_has_its_members() -> None:
    assert service.countries_in("igad") == IGAD
    assert service.countries_in("eac") == EAC


@pytest.mark.parametrize(("slug", "count"), MEMBER_COUNTS.items())
def test_organisations_have_their_number_of_members(slug: str, count: int) -> None:
    assert len(service.countries_in(slug)) == count


def test_memberships_agree_with_what_is_known_independently() -> None:
    un = service.countries_in("un")
    # the AU is the UN member states of Africa and the Sahrawi Republic
    assert service.countries_in("au") == (service.countries_in("africa") & un) | {"EH"}
    assert service.countries_in("eu") <= service.countries_in("osce")
    assert service.countries_in("oas") <= service.countries_in("americas")
    assert service.countries_in("igad") <= service.countries_in("au")
    assert service.countries_in("eccas") <= service.countries_in("middle_africa") | {"BI"}
    non_un = set().union(*(service.countries_in(slug) for slug in service.ORGANISATIONS)) - un
    assert non_un == {"EH", "PS", "VA"}


def test_countries_in_refuses_an_unknown_id() -> None:
    with pytest.raises(KeyError):
        service.countries_in("atlantis")
    with pytest.raises(KeyError):
        service.regions_of("XX")


# --- languages ------------------------------------------------------------------------------------


def test_every_iso_639_1_language_is_there_under_its_639_1_code() -> None:
    iso_639_1 = {lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")}
    assert iso_639_1 <= service.language_codes()
    assert {"sg", "ar", "sw", "fr", "en", "so", "ti", "am", "ha", "ff"} <= service.language_codes()


def test_languages_without_a_639_1_code_are_there_under_their_639_3_code() -> None:
    codes = service.language_codes()
    assert {"din", "nus", "apd", "ckb", "kmr", "prs", "rhg", "quc", "gug", "ymm"} <= codes
    for lang in service.taxonomy().languages:
        assert pycountry.languages.get(alpha_3=lang.iso639_3) is not None, lang.id
        if len(lang.id) == 3:
            assert lang.id == lang.iso639_3
            assert not hasattr(pycountry.languages.get(alpha_3=lang.id), "alpha_2"), lang.id


# --- check ----------------------------------------------------------------------------------------


def test_check_returns_known_values_normalised() -> None:
    assert service.check("themes", "theme", ["gender_inclusion", "transhumance"]) == [
        "gender_inclusion",
        "transhumance",
    ]
    assert service.check("countries", "country", ["cf", "Ke", "CF"]) == ["CF", "KE"]
    assert service.check("languages", "language", ["FR", "Sg", "swa", "DIN"]) == ["fr", "sg", "sw", "din"]
    assert service.check("service_types", "service_type", ["process_design"]) == ["process_design"]
    assert service.check("regions", "region", ["eastern_africa"]) == ["eastern_africa"]
    assert service.check("themes", "theme", []) == []


@pytest.mark.parametrize(
    ("field", "kind", "values", "bad_field", "bad_value"),
    [
        (
            "themes",
            "theme",
            ["gender_inclusion", "media_communication", "astrology"],
            "themes.2",
            "astrology",
        ),
        ("countries", "country", ["KE", "XX"], "countries.1", "XX"),
        ("languages", "language", ["zz"], "languages.0", "zz"),
        ("service_types", "service_type", ["Process_Design"], "service_types.0", "Process_Design"),
        ("regions", "region", ["igad"], "regions.0", "igad"),
    ],
)
def test_check_names_the_field_and_the_unknown_value(
    field: str, kind: str, values: list[str], bad_field: str, bad_value: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.check(field, kind, values)  # type: ignore[arg-type]
    errors = raised.value.extra["errors"]
    assert [e["field"] for e in errors] == [bad_field]
    assert bad_value in errors[0]["message"]
    assert raised.value.detail.startswith(f"{bad_field}: ")


def test_check_reports_every_unknown_value() -> None:
    with pytest.raises(InvalidInput) as raised:
        service.check("expertise.themes", "theme", ["nope", "power_sharing", "nada"])
    assert [e["field"] for e in raised.value.extra["errors"]] == ["expertise.themes.0", "expertise.themes.2"]


def test_check_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        service.check("countries", "country", "KE")


# --- GET /v1/taxonomy -----------------------------------------------------------------------------


@pytest.fixture
async def taxonomy_client() -> AsyncIterator[AsyncTestClient]:
    app = Litestar(route_handlers=[TaxonomyController], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


async def test_the_endpoint_returns_every_list(taxonomy_client: AsyncTestClient) -> None:
    response = await taxonomy_client.get("/v1/taxonomy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "max-age=3600, public"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    body = response.json()
    whole = service.taxonomy()
    assert body["version"] == whole.version
    for kind in LISTS:
        assert len(body[kind]) == len(getattr(whole, kind)), kind
    assert body == msgspec.json.decode(msgspec.json.encode(whole))
    kenya = next(c for c in body["countries"] if c["id"] == "KE")
    assert kenya["label"] == {"en": "Kenya", "fr": "Kenya"}
    assert "igad" in kenya["organisations"]
    advisory = [t["id"] for t in body["service_types"] if t["parent"] == "advisory_support"]
    assert set(advisory) >= ISSUE_ADVISORY_CHILDREN


async def test_kind_returns_one_list(taxonomy_client: AsyncTestClient) -> None:
    everything = await taxonomy_client.get("/v1/taxonomy")
    response = await taxonomy_client.get("/v1/taxonomy", params={"kind": "themes"})
    assert response.status_code == 200
    body = response.json()
    assert {t["id"] for t in body["themes"]} == service.theme_ids()
    assert all(body[kind] == [] for kind in LISTS if kind != "themes")
    assert body["version"] == everything.json()["version"]
    assert response.headers["etag"] != everything.headers["etag"]


async def test_a_bad_kind_is_a_422_problem(taxonomy_client: AsyncTestClient) -> None:
    response = await taxonomy_client.get("/v1/taxonomy", params={"kind": "planets"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "cache-control" not in response.headers
    assert [e["field"] for e in response.json()["errors"]] == ["kind"]


async def test_a_matching_etag_is_a_304(taxonomy_client: AsyncTestClient) -> None:
    etag = (await taxonomy_client.get("/v1/taxonomy")).headers["etag"]
    again = await taxonomy_client.get("/v1/taxonomy", headers={"If-None-Match": f'"other", W/{etag}'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    stale = await taxonomy_client.get("/v1/taxonomy", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_the_endpoint_is_described_in_openapi() -> None:
    app = Litestar(route_handlers=[TaxonomyController], exception_handlers=EXCEPTION_HANDLERS)
    schema = app.openapi_schema.to_schema()
    operation = schema["paths"]["/v1/taxonomy"]["get"]
    assert operation["tags"] == ["taxonomy"]
    assert {"200", "304", "400", "422"} <= set(operation["responses"])
    kind = next(p for p in operation["parameters"] if p["name"] == "kind")
    assert set(kind["schema"]["enum"]) >= set(LISTS)
    assert {"Taxonomy", "Country", "Language", "Region", "ServiceType", "Theme"} <= set(
        schema["components"]["schemas"]
    )


# --- build.py -------------------------------------------------------------------------------------


def test_build_reproduces_the_generated_files_exactly(tmp_path: Path) -> None:
    written = build.build(tmp_path)
    assert {p.name for p in written} == {"countries.json", "languages.json", "regions.json"}
    for path in written:
        committed = build.DATA_DIR / path.name
        assert path.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
            f"{path.name} differs from what `python -m msnet.taxonomy.build` makes: "
            "edit build.py (or its sources), not the file, and rebuild"
        )


def test_hand_written_files_are_in_the_committed_layout() -> None:
    """service_types.json and themes.json read like the generated files: one term a line."""
    for name in ("service_types.json", "themes.json"):
        text = (build.DATA_DIR / name).read_text(encoding="utf-8")
        data = msgspec.json.decode(text)
        header = {k: v for k, v in data.items() if k != "terms"}
        assert text == build.render(header, data["terms"]), name
