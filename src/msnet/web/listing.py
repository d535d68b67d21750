"""What the directory's and the trainings' search pages share: a search as its URL says it (kept in
the address so it can be bookmarked and shared), the facets beside the results, the mistakes of a
search by filter, and the names of taxonomy terms and organisations in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from urllib.parse import quote_plus

from litestar import Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.db.engine import driver
from msnet.errors import InvalidInput
from msnet.taxonomy import service as taxonomy
from msnet.web import i18n, sessions

#: The most terms a facet lists (the most frequent first; a chosen one always).
FACET_TERMS = 12
#: The longest cursor a page gives out.
CURSOR_LENGTH = 512
LIST_KINDS = {
    "theme": "themes",
    "service_type": "service_types",
    "language": "languages",
    "region": "regions",
    "country": "countries",
}


@dataclass
class Query:
    """A search as its URL says it: the filters set, the page's cursor, and the mistakes in them."""

    path: str
    values: dict[str, str] = field(default_factory=dict)
    cursor: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        path: str,
        params: Mapping[str, str],
        longest: Mapping[str, int],
        *,
        choices: Mapping[str, tuple[str, ...]] = {},
        dates: tuple[str, ...] = (),
    ) -> Query:
        """The filters named in ``longest`` (each at most that long), those of ``choices`` among
        their values, those of ``dates`` ISO dates."""
        query = cls(path)
        for name, most in longest.items():
            value = (params.get(name) or "").strip()
            if not value:
                continue
            if len(value) > most:
                query.errors[name] = i18n.gettext("is longer than %(n)s characters", n=most)
            elif name in choices and value not in choices[name]:
                query.errors[name] = i18n.gettext("is not one of the choices")
            elif name in dates and not _is_date(value):
                query.errors[name] = i18n.gettext("is not a date (YYYY-MM-DD)")
            else:
                query.values[name] = value
        cursor = (params.get("cursor") or "").strip()
        if len(cursor) > CURSOR_LENGTH:
            query.errors["cursor"] = i18n.gettext("is not a page of this search")
        query.cursor = cursor or None
        return query

    def url(self, path: str | None = None, /, **changes: str | None) -> str:
        """The address of this search with ``changes`` (a value of None drops the filter); a change
        of filter goes back to the first page."""
        params: dict[str, str | None] = {**self.values}
        params.update(changes)
        if "cursor" not in changes:
            params.pop("cursor", None)
        query = "&".join(_pair(k, v) for k, v in params.items() if v)
        return (path or self.path) + (("?" + query) if query else "")

    def varying(self, name: str) -> Callable[[str | None], str]:
        """``lambda value: self.url(**{name: value})``, the other filters encoded and joined once: a
        facet links to a dozen searches that differ from this one in ``name`` alone."""
        items = list(self.values.items())
        at = list(self.values).index(name) if name in self.values else len(items)
        before = "&".join(_pair(k, v) for k, v in items[:at] if v)
        after = "&".join(_pair(k, v) for k, v in items[at + 1 :] if v)

        def url(value: str | None) -> str:
            query = "&".join(part for part in (before, _pair(name, value) if value else "", after) if part)
            return self.path + (("?" + query) if query else "")

        return url

    def errors_from(self, exc: InvalidInput) -> None:
        """The service's mistakes of the search, by filter."""
        for error in exc.extra.get("errors") or [{"field": "q", "message": exc.detail}]:
            self.errors.setdefault(error["field"].split(".", 1)[0], error["message"])


@lru_cache(maxsize=4096)
def _pair(name: str, value: str) -> str:
    """``name=value`` as ``urlencode`` writes it, kept: a search page links to some sixty searches
    that differ from it by one filter, and encoding every filter of each again was most of the
    cost of its facets."""
    return f"{quote_plus(name)}={quote_plus(value)}"


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def count_text(count: int, language: str) -> str:
    """A facet's count in ``language`` (formatted once: Babel's formatting costs more than the rest
    of a facet's term)."""
    with i18n.use(language):
        return i18n.format_number(count)


@dataclass(slots=True)
class FacetTerm:
    """A term of a facet beside the results: its name, its count, and the search narrowed to it (for
    the chosen one, widened). Attributes, not a dict's keys: a template's ``term.url`` on a dict
    raises and catches an AttributeError before it looks the key up, a sixth of a search page's
    rendering. Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which
    made one twice as long to build (some sixty a page)."""

    id: str
    label: str
    count_text: str
    selected: bool
    url: str


@dataclass(slots=True)
class FacetView:
    """A facet beside the results: its title, its terms, and the search without it when one is
    chosen."""

    name: str
    title: str
    clear_url: str | None
    terms: list[FacetTerm]


def facet_views(
    query: Query,
    facets: Mapping[str, Mapping[str, int]],
    titles: Mapping[str, str],
    named: Callable[[str, str], str],
) -> list[FacetView]:
    """The facets beside the results, in the order of ``titles`` (msgids): each term's name
    (``named(facet, term)``), count, and the search narrowed to it (for the chosen one, widened)."""
    views = []
    language = i18n.current()
    for name, title in titles.items():
        counts = facets.get(name, {})
        chosen = query.values.get(name)
        ranked = sorted(counts, key=counts.__getitem__, reverse=True)
        if len(ranked) > FACET_TERMS:  # only the terms counted as often as the last shown need names
            least = counts[ranked[FACET_TERMS - 1]]
            ranked = [t for t in ranked if counts[t] >= least]
        labels = {t: named(name, t) for t in ranked}
        top = sorted(ranked, key=lambda t: (-counts[t], labels[t].casefold()))[:FACET_TERMS]
        if chosen and chosen not in top:
            top.append(chosen)
            labels[chosen] = named(name, chosen)
        url = query.varying(name)
        views.append(
            FacetView(
                name=name,
                title=i18n.translate(title),
                clear_url=url(None) if chosen else None,
                terms=[
                    FacetTerm(
                        id=term,
                        label=labels[term],
                        count_text=count_text(counts.get(term, 0), language),
                        selected=term == chosen,
                        url=url(None if term == chosen else term),
                    )
                    for term in top
                ],
            )
        )
    return views


def htmx_fragment(request: Request, target: str) -> bool:
    """Whether htmx asks for the search's part ``target`` alone (not on restoring history: a whole
    page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and request.headers.get("hx-history-restore-request") != "true"
    )


@cache
def _labels(kind: str, language: str) -> dict[str, str]:
    terms = getattr(taxonomy.taxonomy(), LIST_KINDS[kind])
    return {t.id: getattr(t.label, language) for t in terms}


def label(kind: str, term: str) -> str:
    """A taxonomy term's name (a theme, service type, region, country or language) in the request's
    language (its id if the taxonomy lacks it)."""
    return _labels(kind, i18n.current()).get(term, term)


@cache
def _choices(kind: str, language: str) -> list[tuple[str, str]]:
    return sorted(_labels(kind, language).items(), key=lambda item: item[1].casefold())


def choices(kind: str) -> list[tuple[str, str]]:
    """A taxonomy list as (id, name) pairs in the request's language, by name."""
    return _choices(kind, i18n.current())


@lru_cache(maxsize=2048)
def _options(kind: str, language: str, chosen: str) -> Markup:
    return Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(
            term, Markup(" selected") if term == chosen else "", name
        )
        for term, name in _choices(kind, language)
    )


def options(kind: str, chosen: str | None) -> Markup:
    """The ``<option>`` elements of a taxonomy list in the request's language, ``chosen`` selected:
    rendered once a language and choice (a list of countries is a few hundred of them, most of a
    page's rendering otherwise)."""
    language = i18n.current()
    return _options(kind, language, chosen if chosen in _labels(kind, language) else "")


@dataclass
class _Names:
    """The organisations' names by slug as last read, and their fingerprint then."""

    fingerprint: str | None = None
    by_slug: dict[str, str] = field(default_factory=dict)


_names = _Names()
_READ_NAMES = (
    "SELECT slug, name, (SELECT md5(string_agg(slug || '/' || name, ',' ORDER BY slug)) FROM organisations)"
    " FROM organisations"
)


async def organisation_names(db: AsyncSession) -> dict[str, str]:
    """Every organisation's name by its slug (``organisations`` has no row-level security: the same
    for every reader). A page of a signed-in person reuses those last read while the fingerprint read
    with the person's session (:data:`msnet.web.sessions.ORGANISATIONS_KEY`, this transaction's)
    is theirs, so a renaming shows on the next page, in every process; otherwise they are read."""
    fingerprint = db.info.get(sessions.ORGANISATIONS_KEY)
    if fingerprint is None or fingerprint != _names.fingerprint:
        await db.flush()
        rows = await (await driver(db)).fetch(_READ_NAMES)
        _names.by_slug = {slug: name for slug, name, _ in rows}
        _names.fingerprint = rows[0][2] if rows else None
    return _names.by_slug
