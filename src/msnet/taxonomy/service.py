"""The taxonomy in memory: read once from the data files, immutable, checked for consistency as it loads.

Other domains use it to validate input (``check``) and to widen searches (``countries_in``,
``regions_of``, ``children_of``). Nothing here touches the database.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar, get_args

import msgspec

from msnet.api import Struct
from msnet.errors import InvalidInput
from msnet.taxonomy import schemas
from msnet.taxonomy.schemas import ListKind, TermKind

#: Slugs of the regional organisations whose membership the country list records.
ORGANISATIONS = ("au", "eu", "osce", "oas", "igad", "eac", "eccas", "oic", "commonwealth")
#: Also accepted by ``countries_in``: the UN member states.
UN = "un"

_FILES: dict[ListKind, tuple[str, type]] = {
    "service_types": ("service_types.json", schemas.ServiceType),
    "themes": ("themes.json", schemas.Theme),
    "regions": ("regions.json", schemas.Region),
    "countries": ("countries.json", schemas.Country),
    "languages": ("languages.json", schemas.Language),
}
_LIST_OF: dict[TermKind, ListKind] = {
    "service_type": "service_types",
    "theme": "themes",
    "region": "regions",
    "country": "countries",
    "language": "languages",
}
_NAME_OF: dict[TermKind, str] = {
    "service_type": "service type",
    "theme": "theme",
    "region": "region",
    "country": "country (ISO 3166-1 alpha-2)",
    "language": "language (ISO 639-1, else ISO 639-3)",
}

T = TypeVar("T")


class DataFile(Struct, Generic[T]):
    """One file of ``msnet/taxonomy/data``."""

    version: schemas.Version
    terms: tuple[T, ...]
    generated_by: str | None = None
    sources: dict[str, str] | None = None
    memberships_as_of: str | None = None


class TaxonomyDataError(RuntimeError):
    """A data file breaks a rule of the taxonomy: a bug in this package, found when it loads."""


@dataclass(frozen=True, slots=True)
class _Index:
    ids: Mapping[TermKind, frozenset[str]]
    language_aliases: Mapping[str, str]
    members: Mapping[str, frozenset[str]]
    areas_of: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Published:
    """A response body of ``GET /v1/taxonomy``, encoded once, and its strong ETag."""

    body: bytes
    etag: str


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-"))


def _read(kind: ListKind) -> DataFile:
    name, term_type = _FILES[kind]
    raw = (importlib.resources.files("msnet.taxonomy") / "data" / name).read_bytes()
    try:
        return msgspec.json.decode(raw, type=DataFile[term_type])  # type: ignore[valid-type]
    except msgspec.ValidationError as exc:
        raise TaxonomyDataError(f"{name}: {exc}") from None


def _unique(kind: ListKind, terms: Iterable[Any]) -> frozenset[str]:
    counts = Counter(term.id for term in terms)
    if duplicates := sorted(i for i, n in counts.items() if n > 1):
        raise TaxonomyDataError(f"{kind}: ids listed twice: {duplicates}")
    return frozenset(counts)


@functools.cache
def _loaded() -> tuple[schemas.Taxonomy, _Index]:
    """Read every file once; refuse an inconsistent taxonomy before anyone uses it."""
    files = {kind: _read(kind) for kind in _FILES}
    whole = schemas.Taxonomy(
        version=max((f.version for f in files.values()), key=_version_key),
        **{kind: f.terms for kind, f in files.items()},
    )
    return whole, _index_of(whole)


def taxonomy() -> schemas.Taxonomy:
    """The whole taxonomy; its version is the newest of the files' versions."""
    return _loaded()[0]


def _index() -> _Index:
    return _loaded()[1]


def _index_of(whole: schemas.Taxonomy) -> _Index:
    ids: dict[TermKind, frozenset[str]] = {
        kind: _unique(_LIST_OF[kind], getattr(whole, _LIST_OF[kind])) for kind in get_args(TermKind)
    }

    children: dict[str, list[str]] = {term.id: [] for term in whole.service_types}
    for term in whole.service_types:
        if term.parent is None:
            continue
        parent = next((p for p in whole.service_types if p.id == term.parent), None)
        if parent is None or parent.parent is not None:
            raise TaxonomyDataError(f"service type {term.id}: parent {term.parent} is not a top-level type")
        children[term.parent].append(term.id)

    regions = {region.id: region for region in whole.regions}
    for region in whole.regions:
        if region.parent is not None and region.parent not in regions:
            raise TaxonomyDataError(f"region {region.id}: unknown parent {region.parent}")

    if clash := sorted(set(regions) & {*ORGANISATIONS, UN}):
        raise TaxonomyDataError(f"regions: ids that are organisation slugs: {clash}")
    members: dict[str, set[str]] = {key: set() for key in (*regions, *ORGANISATIONS, UN)}
    areas_of: dict[str, tuple[str, ...]] = {}
    for country in whole.countries:
        chain = tuple(a for a in (country.intermediate_region, country.sub_region, country.region) if a)
        for area, parent in zip(chain, (*chain[1:], None)[: len(chain)], strict=True):
            if area not in regions or regions[area].parent != parent:
                raise TaxonomyDataError(f"country {country.id}: {area} is not an M49 area under {parent}")
        for key in (*chain, *country.organisations, *((UN,) if country.un_member else ())):
            if key not in members:
                raise TaxonomyDataError(f"country {country.id}: unknown organisation {key}")
            members[key].add(country.id)
        areas_of[country.id] = chain

    aliases = {lang.iso639_3: lang.id for lang in whole.languages if lang.iso639_3 != lang.id}
    if clash := sorted(set(aliases) & ids["language"]):
        raise TaxonomyDataError(f"languages: ISO 639-3 codes that are also ids: {clash}")

    return _Index(
        ids=MappingProxyType(ids),
        language_aliases=MappingProxyType(aliases),
        members=MappingProxyType({key: frozenset(codes) for key, codes in members.items()}),
        areas_of=MappingProxyType(areas_of),
        children=MappingProxyType({key: tuple(value) for key, value in children.items()}),
    )


def service_type_ids() -> frozenset[str]:
    return _index().ids["service_type"]


def theme_ids() -> frozenset[str]:
    return _index().ids["theme"]


def region_ids() -> frozenset[str]:
    return _index().ids["region"]


def country_codes() -> frozenset[str]:
    return _index().ids["country"]


def language_codes() -> frozenset[str]:
    return _index().ids["language"]


def organisation_slugs() -> frozenset[str]:
    """The organisations ``countries_in`` knows the members of (``un`` included)."""
    return frozenset((*ORGANISATIONS, UN))


def countries_in(region_or_org_id: str) -> frozenset[str]:
    """The countries in an M49 area (any level), or the members of an organisation (or ``un``).

    Raises ``KeyError`` for an id that is neither: validate user input with ``check`` first.
    """
    try:
        return _index().members[region_or_org_id]
    except KeyError:
        raise KeyError(f"{region_or_org_id!r} is neither a region id nor an organisation slug") from None


def regions_of(country_code: str) -> tuple[str, ...]:
    """The M49 areas a country is in, the most specific first: its intermediate region (where M49 has
    one), sub-region and region, e.g. ``("eastern_africa", "sub_saharan_africa", "africa")`` for KE;
    empty for Antarctica. Raises ``KeyError`` for an unknown code."""
    try:
        return _index().areas_of[country_code.upper()]
    except KeyError:
        raise KeyError(f"{country_code!r} is not an ISO 3166-1 alpha-2 code of the taxonomy") from None


def children_of(service_type_id: str) -> tuple[str, ...]:
    """The narrower service types of a service type, in taxonomy order; empty for a leaf."""
    try:
        return _index().children[service_type_id]
    except KeyError:
        raise KeyError(f"{service_type_id!r} is not a service type of the taxonomy") from None


def _normalised(kind: TermKind, value: object, index: _Index) -> str | None:
    if not isinstance(value, str):
        return None
    if kind == "country":
        value = value.upper()
    elif kind == "language":
        value = value.lower()
        value = index.language_aliases.get(value, value)
    return value if value in index.ids[kind] else None


def check(field: str, kind: TermKind, values: Iterable[str]) -> list[str]:
    """Validate taxonomy terms from a request; return them normalised, in order, without repeats.

    Countries come back upper-case and languages lower-case, a language given by the ISO 639-3 code
    of a language that has an ISO 639-1 code as the latter (``swa`` -> ``sw``). Every unknown value
    is reported, each under ``field.position`` (``themes.2``), in one ``InvalidInput``.
    """
    if kind not in _LIST_OF:
        raise ValueError(f"unknown kind of term {kind!r}")
    if isinstance(values, str):
        raise TypeError("check takes a collection of values, not one string")
    index = _index()
    result: list[str] = []
    errors: list[dict[str, str]] = []
    for position, value in enumerate(values):
        term = _normalised(kind, value, index)
        if term is None:
            shown = value[:60] if isinstance(value, str) else type(value).__name__
            errors.append(
                {
                    "field": f"{field}.{position}",
                    "message": f"'{shown}' is not a {_NAME_OF[kind]} of the taxonomy "
                    f"(GET /v1/taxonomy?kind={_LIST_OF[kind]} lists them)",
                }
            )
        elif term not in result:
            result.append(term)
    if errors:
        raise InvalidInput.every(errors)
    return result


@functools.cache
def published(kind: ListKind | None = None) -> Published:
    """The body of ``GET /v1/taxonomy`` (every list, or only ``kind``'s), encoded once per process."""
    whole = taxonomy()
    document = (
        whole
        if kind is None
        else msgspec.structs.replace(whole, **{other: () for other in _FILES if other != kind})
    )
    body = msgspec.json.encode(document)
    return Published(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')
