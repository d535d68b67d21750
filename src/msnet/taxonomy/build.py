"""Regenerate the taxonomy files that come from outside sources: countries, languages, regions.

    pip install -e '.[taxonomy]'
    python -m msnet.taxonomy.build              # rewrites src/msnet/taxonomy/data/
    python -m msnet.taxonomy.build --out DIR    # somewhere else (the tests compare the two)

Nobody edits ``countries.json``, ``languages.json`` or ``regions.json`` by hand: a test regenerates them
and fails on any difference. To change them, change a source below (or the pinned versions of the
packages in pyproject.toml's ``taxonomy`` extra), bump ``VERSION`` and run this module.

Sources
- ISO 3166-1 countries and ISO 639-3 languages, and their French names, from pycountry (the Debian
  iso-codes data and its gettext translations).
- The UN M49 area of each country from country_converter's classification table (its ``UNregion``,
  ``UNcode`` and ``UNmember`` columns). The table is read as the data file the package ships, not
  through its pandas-based API, which fails under pandas 3.
- Kept here by hand, each in one commented table: the M49 areas themselves (codes, hierarchy, French
  names, which no package at hand provides), the ISO 639-3 languages added to those of ISO 639-1, and
  the membership of the regional organisations.

``service_types.json`` and ``themes.json`` are not generated: they are this project's own
vocabulary and are edited by hand.
"""

from __future__ import annotations

import argparse
import csv
import gettext
import importlib.metadata
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pycountry

DATA_DIR = Path(__file__).parent / "data"

#: The version written into the generated files: YEAR-MONTH-N. Bump it with every change of their content.
VERSION = "2026-11-1"

#: The day the membership lists below were last checked against what the organisations have decided.
MEMBERSHIPS_AS_OF = "2026-11-23"

# ---------------------------------------------------------------------------------------------------
# UN M49 areas (https://unstats.un.org/unsd/methodology/m49/): id, M49 code, English name as in the
# standard (and in country_converter's UNregion column), French name as published by the UN
# Statistics Division, parent id. The order is the order of regions.json. Levels follow from depth:
# region, sub-region, intermediate region (M49 has intermediate regions in Africa and the Americas
# only; the Channel Islands one, 830, is left out because country_converter assigns no country to it).
# ---------------------------------------------------------------------------------------------------
M49_AREAS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("africa", "002", "Africa", "Afrique", None),
    ("northern_africa", "015", "Northern Africa", "Afrique septentrionale", "africa"),
    ("sub_saharan_africa", "202", "Sub-Saharan Africa", "Afrique subsaharienne", "africa"),
    ("eastern_africa", "014", "Eastern Africa", "Afrique orientale", "sub_saharan_africa"),
    ("middle_africa", "017", "Middle Africa", "Afrique centrale", "sub_saharan_africa"),
    ("southern_africa", "018", "Southern Africa", "Afrique australe", "sub_saharan_africa"),
    ("western_africa", "011", "Western Africa", "Afrique occidentale", "sub_saharan_africa"),
    ("americas", "019", "Americas", "Amériques", None),
    (
        "latin_america_caribbean",
        "419",
        "Latin America and the Caribbean",
        "Amérique latine et Caraïbes",
        "americas",
    ),
    ("caribbean", "029", "Caribbean", "Caraïbes", "latin_america_caribbean"),
    ("central_america", "013", "Central America", "Amérique centrale", "latin_america_caribbean"),
    ("south_america", "005", "South America", "Amérique du Sud", "latin_america_caribbean"),
    ("northern_america", "021", "Northern America", "Amérique septentrionale", "americas"),
    ("asia", "142", "Asia", "Asie", None),
    ("central_asia", "143", "Central Asia", "Asie centrale", "asia"),
    ("eastern_asia", "030", "Eastern Asia", "Asie orientale", "asia"),
    ("south_eastern_asia", "035", "South-eastern Asia", "Asie du Sud-Est", "asia"),
    ("southern_asia", "034", "Southern Asia", "Asie méridionale", "asia"),
    ("western_asia", "145", "Western Asia", "Asie occidentale", "asia"),
    ("europe", "150", "Europe", "Europe", None),
    ("eastern_europe", "151", "Eastern Europe", "Europe orientale", "europe"),
    ("northern_europe", "154", "Northern Europe", "Europe septentrionale", "europe"),
    ("southern_europe", "039", "Southern Europe", "Europe méridionale", "europe"),
    ("western_europe", "155", "Western Europe", "Europe occidentale", "europe"),
    ("oceania", "009", "Oceania", "Océanie", None),
    ("australia_new_zealand", "053", "Australia and New Zealand", "Australie et Nouvelle-Zélande", "oceania"),
    ("melanesia", "054", "Melanesia", "Mélanésie", "oceania"),
    ("micronesia", "057", "Micronesia", "Micronésie", "oceania"),
    ("polynesia", "061", "Polynesia", "Polynésie", "oceania"),
)
AREA_LEVELS = ("region", "sub_region", "intermediate_region")

#: UNregion values of country_converter that are no M49 area: M49 puts Antarctica in none.
NO_M49_AREA = frozenset({"Antarctica"})

# ---------------------------------------------------------------------------------------------------
# Membership of the regional organisations of the network, as ISO 3166-1 alpha-2 codes, as of
# MEMBERSHIPS_AS_OF. A suspension (from the AU after a coup, say) does not end membership and is not
# recorded here; a withdrawal that has taken effect does. The expected count is checked at build time.
# ---------------------------------------------------------------------------------------------------
MEMBERSHIPS: dict[str, tuple[int, str]] = {
    # African Union: 55 member states, the 54 UN member states of Africa and the Sahrawi Arab
    # Democratic Republic, under ISO's code for Western Sahara (EH). Morocco rejoined in 2017.
    "au": (
        55,
        """
        DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML
        MR MU MA MZ NA NE NG RW EH ST SN SC SL SO ZA SS SD TZ TG TN UG ZM ZW
        """,
    ),
    # European Union: 27 member states since the United Kingdom left on 31 January 2020.
    "eu": (
        27,
        """
        AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE
        """,
    ),
    # Organization for Security and Co-operation in Europe: 57 participating States (Mongolia the
    # last to join, 2012). The Holy See (VA) participates although not a UN member state.
    "osce": (
        57,
        """
        AL AD AM AT AZ BY BE BA BG CA HR CY CZ DK EE FI FR GE DE GR VA HU IS IE IT KZ KG LV LI LT LU
        MT MD MC MN ME NL MK NO PL PT RO RU SM RS SK SI ES SE CH TJ TR TM UA GB US UZ
        """,
    ),
    # Organization of American States: the 35 independent states of the Americas less Nicaragua,
    # whose denunciation of the Charter (19 November 2021) took effect on 19 November 2023.
    # Cuba is kept: the 1962 exclusion of its government was lifted in 2009 (AG/RES. 2438) and the OAS
    # lists it as a member state, though Cuba takes no part. Venezuela is kept: the OAS did not accept
    # its 2017 denunciation as having taken effect and still seats a representative for it.
    "oas": (
        34,
        """
        AG AR BS BB BZ BO BR CA CL CO CR CU DM DO EC SV GD GT GY HT HN JM MX PA PY PE KN LC VC SR TT
        US UY VE
        """,
    ),
    # Intergovernmental Authority on Development: 7 member states. Eritrea (ER) rejoined in 2023
    # after suspending its membership in 2007, and announced its withdrawal again on 12 December 2025
    # (IGAD regretted it and asked it to reconsider); it is not listed.
    "igad": (
        7,
        """
        DJ ET KE SO SS SD UG
        """,
    ),
    # East African Community: 8 partner states; DR Congo acceded in 2022, Somalia in 2024 (admitted
    # November 2023, instrument of ratification deposited March 2024).
    "eac": (
        8,
        """
        BI CD KE RW SO SS TZ UG
        """,
    ),
    # Economic Community of Central African States: 10 member states. Rwanda (RW) announced its
    # withdrawal on 7 June 2025, after the Malabo summit passed over its turn at the chair; it is
    # not listed.
    "eccas": (
        10,
        """
        AO BI CM CF TD CG CD GQ GA ST
        """,
    ),
    # Organisation of Islamic Cooperation: 57 member states, Palestine (PS) among them. Syria's
    # membership, suspended in 2012, was reinstated in March 2025.
    "oic": (
        57,
        """
        AF AL DZ AZ BH BD BJ BN BF CM TD KM CI DJ EG GA GM GN GW GY ID IR IQ JO KZ KW KG LB LY MY MV
        ML MR MA MZ NE NG OM PK PS QA SA SN SL SO SD SR SY TJ TG TN TR TM UG AE UZ YE
        """,
    ),
    # Commonwealth: 56 member countries, Gabon and Togo the last to join (June 2022).
    "commonwealth": (
        56,
        """
        BW CM SZ GA GM GH KE LS MW MU MZ NA NG RW SC SL ZA TG UG TZ ZM
        BD BN IN MY MV PK SG LK
        AG BS BB BZ CA DM GD GY JM KN LC VC TT
        CY MT GB
        AU FJ KI NR NZ PG WS SB TO TV VU
        """,
    ),
}

# ---------------------------------------------------------------------------------------------------
# ISO 639-3 languages without an ISO 639-1 code that mediation support work in Africa, the Middle
# East, Asia and Latin America needs: languages of parties, communities and insider mediators in
# current or recent peace processes, and vehicular languages of the regions. Every ISO 639-1
# language is included anyway; a code here that has a 639-1 code is an error.
# ---------------------------------------------------------------------------------------------------
EXTRA_LANGUAGES: dict[str, str] = {
    # Arabic varieties (ar is the macrolanguage)
    "apd": "Sudan",
    "pga": "South Sudan (Juba Arabic)",
    "shu": "Chad, Darfur",
    "ayl": "Libya",
    "arz": "Egypt",
    "apc": "Syria, Lebanon, Palestine, Jordan",
    "acm": "Iraq",
    "acq": "Yemen (Taizz, Aden)",
    "ayn": "Yemen (Sanaa)",
    "afb": "Gulf",
    "ary": "Morocco",
    "arq": "Algeria",
    "aeb": "Tunisia",
    "mey": "Western Sahara, Mauritania, Mali (Hassaniya)",
    # Horn of Africa, Sudan and South Sudan
    "ymm": "Somalia (Maay)",
    "tig": "Eritrea, Sudan (Tigre)",
    "bej": "Sudan, Eritrea (Beja)",
    "sid": "Ethiopia (Sidamo)",
    "wal": "Ethiopia (Wolaytta)",
    "din": "South Sudan (Dinka)",
    "nus": "South Sudan, Ethiopia (Nuer)",
    "shk": "South Sudan (Shilluk)",
    "bfa": "South Sudan (Bari)",
    "zne": "South Sudan, DR Congo, CAR (Zande)",
    "fvr": "Sudan (Fur)",
    "mls": "Sudan, Chad (Masalit)",
    "zag": "Sudan, Chad (Zaghawa)",
    # East Africa and the Great Lakes
    "luo": "Kenya (Dholuo)",
    "kln": "Kenya (Kalenjin)",
    "kam": "Kenya (Kamba)",
    "luy": "Kenya (Luhya)",
    "mas": "Kenya, Tanzania (Maasai)",
    "tuv": "Kenya (Turkana)",
    "ach": "Uganda, South Sudan (Acholi)",
    "teo": "Uganda, Kenya (Teso)",
    "swc": "DR Congo (Congo Swahili)",
    "lua": "DR Congo (Tshiluba)",
    # Central Africa and Lake Chad
    "gbp": "Central African Republic (Gbaya)",
    "sba": "Chad (Ngambay)",
    "knc": "Nigeria, Niger, Chad (Kanuri)",
    "tuq": "Chad, Libya, Niger (Tedaga)",
    "wes": "Cameroon (Pidgin)",
    # Sahel and West Africa
    "ffm": "Mali (Maasina Fulfulde)",
    "fuv": "Nigeria (Fulfulde)",
    "fuc": "Senegal, Gambia, Mauritania (Pulaar)",
    "fuf": "Guinea (Pular)",
    "snk": "Mali, Mauritania, Senegal (Soninke)",
    "mnk": "Gambia, Senegal (Mandinka)",
    "dyo": "Senegal, Casamance (Jola-Fonyi)",
    "dyu": "Côte d'Ivoire, Burkina Faso (Dioula)",
    "mos": "Burkina Faso (Mooré)",
    "dje": "Niger (Zarma)",
    "ses": "Mali (Koyraboro Senni)",
    "tmh": "Sahel (Tamasheq, macrolanguage)",
    "taq": "Mali (Tamasheq)",
    "ttq": "Niger, Mali (Tamajaq)",
    "tiv": "Nigeria (Tiv)",
    "ijc": "Nigeria, Niger Delta (Izon)",
    "pcm": "Nigeria (Pidgin)",
    "kri": "Sierra Leone (Krio)",
    "men": "Sierra Leone (Mende)",
    "tem": "Sierra Leone (Temne)",
    "pov": "Guinea-Bissau (Kriol)",
    "kea": "Cabo Verde (Kabuverdianu)",
    # North Africa (Amazigh)
    "kab": "Algeria (Kabyle)",
    "shi": "Morocco (Tachelhit)",
    "tzm": "Morocco (Central Atlas Tamazight)",
    "zgh": "Morocco (Standard Moroccan Tamazight)",
    "rif": "Morocco (Tarifit)",
    # Southern Africa and the Indian Ocean
    "vmw": "Mozambique (Makhuwa)",
    "mgh": "Mozambique, Cabo Delgado (Makhuwa-Meetto)",
    "kde": "Mozambique, Tanzania (Makonde)",
    "wmw": "Mozambique, Cabo Delgado (Mwani)",
    "seh": "Mozambique (Sena)",
    "bem": "Zambia (Bemba)",
    "zdj": "Comoros (Shingazidja)",
    # Middle East, Iran, Afghanistan, Pakistan
    "kmr": "Türkiye, Syria, Iraq (Kurmanji)",
    "ckb": "Iraq, Iran (Sorani)",
    "sdh": "Iraq, Iran (Southern Kurdish)",
    "aii": "Iraq, Syria (Assyrian Neo-Aramaic)",
    "azb": "Iran (South Azerbaijani)",
    "bal": "Pakistan, Iran, Afghanistan (Balochi)",
    "brh": "Pakistan (Brahui)",
    "gdq": "Yemen (Mehri)",
    "sqt": "Yemen (Soqotri)",
    "prs": "Afghanistan (Dari)",
    "haz": "Afghanistan (Hazaragi)",
    "uzs": "Afghanistan (Southern Uzbek)",
    "pnb": "Pakistan (Western Punjabi)",
    # South and South-East Asia, the Pacific
    "ctg": "Bangladesh (Chittagonian)",
    "rhg": "Myanmar, Bangladesh (Rohingya)",
    "rki": "Myanmar (Rakhine)",
    "shn": "Myanmar (Shan)",
    "kac": "Myanmar (Kachin)",
    "ksw": "Myanmar, Thailand (S'gaw Karen)",
    "mnw": "Myanmar (Mon)",
    "cnh": "Myanmar (Hakha Chin)",
    "cfm": "Myanmar, India (Falam Chin)",
    "ctd": "Myanmar (Tedim Chin)",
    "mfa": "Thailand (Pattani Malay)",
    "tsg": "Philippines, Bangsamoro (Tausug)",
    "mdh": "Philippines, Bangsamoro (Maguindanao)",
    "mrw": "Philippines, Bangsamoro (Maranao)",
    "ceb": "Philippines (Cebuano)",
    "ilo": "Philippines (Ilocano)",
    "hil": "Philippines (Hiligaynon)",
    "ace": "Indonesia (Acehnese)",
    "pmy": "Indonesia, Papua (Papuan Malay)",
    "tet": "Timor-Leste (Tetum)",
    "tpi": "Papua New Guinea, Bougainville (Tok Pisin)",
    "pis": "Solomon Islands (Pijin)",
    "hif": "Fiji (Fiji Hindi)",
    # Latin America and the Caribbean
    "gug": "Paraguay (Guaraní)",
    "quz": "Peru (Cusco Quechua)",
    "quy": "Peru (Ayacucho Quechua)",
    "qvi": "Ecuador (Imbabura Kichwa)",
    "quc": "Guatemala (K'iche')",
    "kek": "Guatemala (Q'eqchi')",
    "cak": "Guatemala (Kaqchikel)",
    "mam": "Guatemala, Mexico (Mam)",
    "yua": "Mexico (Yucatec Maya)",
    "tzo": "Mexico, Chiapas (Tzotzil)",
    "tzh": "Mexico, Chiapas (Tzeltal)",
    "nhe": "Mexico (Huasteca Nahuatl)",
    "nhn": "Mexico (Central Nahuatl)",
    "arn": "Chile, Argentina (Mapudungun)",
    "guc": "Colombia, Venezuela (Wayuu)",
    "pbb": "Colombia (Nasa Yuwe)",
    "emp": "Colombia, Panama (Emberá)",
    "miq": "Nicaragua, Honduras (Miskito)",
    "cab": "Honduras, Guatemala, Belize (Garifuna)",
    "shp": "Peru (Shipibo-Konibo)",
    "cni": "Peru (Asháninka)",
    "agr": "Peru (Awajún)",
    "pap": "Aruba, Curaçao, Bonaire (Papiamento)",
    "jam": "Jamaica (Patois)",
}

#: Qualifiers of ISO 639-3 reference names that say nothing to a reader choosing a language.
_NAME_QUALIFIERS = (" (macrolanguage)", " (macrolangue)", " (individual language)", " (langue individuelle)")


def _version_of(distribution: str) -> str:
    return importlib.metadata.version(distribution)


def _m49_table() -> dict[str, dict[str, str]]:
    """country_converter's classification, by ISO 3166-1 alpha-3 code (its ISO2 column holds regexes)."""
    path = importlib.metadata.distribution("country_converter").locate_file(
        "country_converter/country_data.tsv"
    )
    with Path(str(path)).open(encoding="utf-8", newline="") as tsv:
        rows = [row for row in csv.DictReader(tsv, delimiter="\t") if row["ISO3"]]
    table = {row["ISO3"]: row for row in rows}
    if len(table) != len(rows):
        raise SystemExit("country_converter lists an ISO3 code twice: the table changed, look at it")
    return table


def _french(domain: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["fr"])


def _clean(name: str) -> str:
    for qualifier in _NAME_QUALIFIERS:
        name = name.removesuffix(qualifier)
    return name


def _members(code_list: str) -> list[str]:
    return code_list.split()


def build_regions() -> list[dict[str, Any]]:
    depth: dict[str, int] = {}
    terms = []
    for area_id, code, en, fr, parent in M49_AREAS:
        if parent is not None and parent not in depth:
            raise SystemExit(f"M49 area {area_id}: its parent {parent} must come before it")
        depth[area_id] = 0 if parent is None else depth[parent] + 1
        terms.append(
            {
                "id": area_id,
                "label": {"en": en, "fr": fr},
                "m49": code,
                "level": AREA_LEVELS[depth[area_id]],
                "parent": parent,
            }
        )
    return terms


def _organisations_by_country() -> dict[str, list[str]]:
    by_country: dict[str, list[str]] = {}
    for slug, (expected, code_list) in MEMBERSHIPS.items():
        members = _members(code_list)
        if len(members) != expected or len(set(members)) != expected:
            raise SystemExit(f"{slug}: {len(set(members))} distinct members listed, {expected} expected")
        for code in members:
            if pycountry.countries.get(alpha_2=code) is None:
                raise SystemExit(f"{slug}: {code} is no ISO 3166-1 alpha-2 code")
            by_country.setdefault(code, []).append(slug)
    return by_country


def build_countries() -> list[dict[str, Any]]:
    m49 = _m49_table()
    areas = {en: (area_id, parent) for area_id, _, en, _, parent in M49_AREAS}
    parent_of = {area_id: parent for area_id, _, _, _, parent in M49_AREAS}
    french = _french("iso3166-1")
    organisations = _organisations_by_country()
    used_areas: set[str] = set()
    terms = []
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        row = m49.get(country.alpha_3)
        if row is None:
            raise SystemExit(f"{country.alpha_2}: not in country_converter's table")
        chain: list[str] = []
        if row["UNregion"] not in NO_M49_AREA:
            if row["UNregion"] not in areas:
                raise SystemExit(f"{country.alpha_2}: M49 area {row['UNregion']!r} is not in M49_AREAS")
            area: str | None = areas[row["UNregion"]][0]
            while area is not None:
                chain.append(area)
                area = parent_of[area]
        used_areas.update(chain)
        levels = dict(zip(AREA_LEVELS, reversed(chain), strict=False))
        terms.append(
            {
                "id": country.alpha_2,
                "label": {"en": country.name, "fr": french.gettext(country.name)},
                "alpha3": country.alpha_3,
                "m49": row["UNcode"].zfill(3) if row["UNcode"] else None,
                "region": levels.get("region"),
                "sub_region": levels.get("sub_region"),
                "intermediate_region": levels.get("intermediate_region"),
                "un_member": bool(row["UNmember"]),
                "organisations": sorted(organisations.get(country.alpha_2, [])),
            }
        )
    if unused := [area_id for area_id, *_ in M49_AREAS if area_id not in used_areas]:
        raise SystemExit(f"M49 areas no country is in: {unused}")
    return terms


def build_languages() -> list[dict[str, Any]]:
    french = _french("iso639-3")
    terms = []
    for language in pycountry.languages:
        alpha_2 = getattr(language, "alpha_2", None)
        if alpha_2 is None and language.alpha_3 not in EXTRA_LANGUAGES:
            continue
        terms.append(
            {
                "id": alpha_2 or language.alpha_3,
                "label": {"en": _clean(language.name), "fr": _clean(french.gettext(language.name))},
                "iso639_3": language.alpha_3,
            }
        )
    for code in EXTRA_LANGUAGES:
        found = pycountry.languages.get(alpha_3=code)
        if found is None:
            raise SystemExit(f"EXTRA_LANGUAGES: {code} is no ISO 639-3 code")
        if hasattr(found, "alpha_2"):
            raise SystemExit(f"EXTRA_LANGUAGES: {code} has the ISO 639-1 code {found.alpha_2}: drop it")
    return sorted(terms, key=lambda term: term["id"])


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(header: Mapping[str, Any], terms: Iterable[Mapping[str, Any]]) -> str:
    """A data file as it is committed: the header fields, then one term a line, so diffs read well."""
    fields = [f"  {_line(key)}: {_line(value)}" for key, value in header.items()]
    lines = ",\n".join(f"    {_line(term)}" for term in terms)
    return "{\n" + ",\n".join([*fields, f'  "terms": [\n{lines}\n  ]']) + "\n}\n"


def build(out: Path) -> list[Path]:
    """Write countries.json, languages.json and regions.json into ``out``; return their paths."""
    header = {
        "version": VERSION,
        "generated_by": "python -m msnet.taxonomy.build",
        "sources": {
            "pycountry": _version_of("pycountry"),
            "country_converter": _version_of("country_converter"),
        },
    }
    files = {
        "regions.json": (header, build_regions()),
        "countries.json": ({**header, "memberships_as_of": MEMBERSHIPS_AS_OF}, build_countries()),
        "languages.json": (header, build_languages()),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (file_header, terms) in files.items():
        path = out / name
        path.write_text(render(file_header, terms), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m msnet.taxonomy.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=DATA_DIR, help="directory to write into (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    for path in build(args.out):
        print(path)


if __name__ == "__main__":
    main()
