"""API boundary of the taxonomy: the terms as ``GET /v1/taxonomy`` gives them, and as the data files hold them.

The structs are frozen and their lists tuples: the taxonomy is loaded once and shared by every request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from msnet.api import Struct

TermId = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$",
        max_length=40,
        description="Stable snake_case id of a term, e.g. `process_design`.",
        examples=["process_design"],
    ),
]
CountryCode = Annotated[
    str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.", examples=["CF"])
]
LanguageCode = Annotated[
    str,
    Meta(
        pattern=r"^[a-z]{2,3}$",
        description="ISO 639-1 code where the language has one, else its ISO 639-3 code.",
        examples=["sg"],
    ),
]
Version = Annotated[
    str,
    Meta(
        pattern=r"^\d{4}-\d{2}-\d+$",
        description="Version of the taxonomy: year, month and a number counting the releases of that month.",
        examples=["2026-11-1"],
    ),
]
RegionLevel = Literal["region", "sub_region", "intermediate_region"]
#: The lists of the taxonomy, as ``GET /v1/taxonomy?kind=`` names them.
ListKind = Literal["service_types", "themes", "regions", "countries", "languages"]
#: The kinds of term, as ``msnet.taxonomy.service.check`` names them.
TermKind = Literal["service_type", "theme", "country", "language", "region"]


class Label(Struct, frozen=True):
    """The name of a term in English and in French."""

    en: Annotated[str, Meta(examples=["Process design"])]
    fr: Annotated[str, Meta(examples=["Conception de processus"])]


class ServiceType(Struct, frozen=True):
    """A kind of support an office offers, in a tree (`parent`)."""

    id: TermId
    label: Label
    parent: Annotated[
        TermId | None, Meta(description="The broader service type; null at the top of the tree.")
    ]


class Theme(Struct, frozen=True):
    """A thematic area of mediation expertise."""

    id: Annotated[TermId, Meta(examples=["ceasefire_security"])]
    label: Annotated[
        Label,
        Meta(
            examples=[
                {
                    "en": "Ceasefire and security arrangements",
                    "fr": "Cessez-le-feu et arrangements de sécurité",
                }
            ]
        ),
    ]


class Region(Struct, frozen=True):
    """A UN M49 area: a region (`africa`), a sub-region (`sub_saharan_africa`) or an intermediate
    region (`eastern_africa`)."""

    id: Annotated[TermId, Meta(examples=["middle_africa"])]
    label: Annotated[Label, Meta(examples=[{"en": "Middle Africa", "fr": "Afrique centrale"}])]
    m49: Annotated[str, Meta(pattern=r"^\d{3}$", description="UN M49 code.", examples=["014"])]
    level: Annotated[RegionLevel, Meta(examples=["intermediate_region"])]
    parent: Annotated[TermId | None, Meta(examples=["sub_saharan_africa"])]


class Country(Struct, frozen=True):
    """A country (ISO 3166-1) with its UN M49 areas and the network's regional organisations it belongs to."""

    id: CountryCode
    label: Annotated[
        Label, Meta(examples=[{"en": "Central African Republic", "fr": "République centrafricaine"}])
    ]
    alpha3: Annotated[
        str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 code.", examples=["CAF"])
    ]
    m49: Annotated[
        str | None, Meta(description="UN M49 code; null where M49 lists none (Taiwan).", examples=["140"])
    ]
    region: Annotated[TermId | None, Meta(description="M49 region id; null for Antarctica.")]
    sub_region: Annotated[TermId | None, Meta(description="M49 sub-region id; null for Antarctica.")]
    intermediate_region: Annotated[
        TermId | None, Meta(description="M49 intermediate region id, in Africa and Latin America only.")
    ]
    un_member: Annotated[bool, Meta(examples=[True])]
    organisations: Annotated[
        tuple[str, ...],
        Meta(
            description="Slugs of the regional organisations of the network the country is a member of.",
            examples=[["au", "eccas"]],
        ),
    ]


class Language(Struct, frozen=True):
    """A language (ISO 639)."""

    id: Annotated[LanguageCode, Meta(examples=["fr"])]
    label: Annotated[Label, Meta(examples=[{"en": "French", "fr": "français"}])]
    iso639_3: Annotated[str, Meta(pattern=r"^[a-z]{3}$", description="ISO 639-3 code.", examples=["fra"])]


class Taxonomy(Struct, frozen=True):
    """Every controlled vocabulary of msnet; with `kind`, only that list is filled."""

    version: Version
    service_types: tuple[ServiceType, ...]
    themes: tuple[Theme, ...]
    regions: tuple[Region, ...]
    countries: tuple[Country, ...]
    languages: tuple[Language, ...]
