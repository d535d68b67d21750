"""English and French: the catalogue of the request's language, and Babel's formats in it.

The French catalogues are ``translations/fr/LC_MESSAGES/*.po`` (``messages.po``, and one per area of
the pages that keeps its own, e.g. ``roster.po``), compiled in memory and merged when this module is
first imported (no compiled file to keep in step). Templates call ``_()`` / ``ngettext()``
(Jinja's i18n extension) and the formatting functions below; Python code calls :func:`gettext`.
The language of a request is bound for its handling (:func:`use`): the session's, else a cookie
set by the language switch, else the best match of ``Accept-Language``, else English.

To add or change strings: ``pybabel extract -F src/msnet/web/babel.cfg -o messages.pot src/msnet/web``,
then add the new entries to the French catalogue of their area and translate them
(``tests/web/test_i18n.py`` fails on any string of the pages left untranslated).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages import mofile, pofile
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LANGUAGES = ("en", "fr")
DEFAULT = "en"
CATALOGUES = Path(__file__).parent / "translations"
#: the cookie the language switch sets for a visitor who has not signed in
COOKIE = "msnet_language"
#: the catalogue of the services' messages (the API's, in English), shown beside a form's fields
SERVICES = "services.po"


def _compile(language: str) -> NullTranslations:
    """Every catalogue of ``language`` (``messages.po``, and one per area of the pages besides),
    compiled and merged."""
    merged: NullTranslations = NullTranslations()
    for path in sorted((CATALOGUES / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            catalog = pofile.read_po(po, locale=language)
        compiled = io.BytesIO()
        mofile.write_mo(compiled, catalog)
        compiled.seek(0)
        translations = Translations(compiled)
        if isinstance(merged, Translations):
            merged.merge(translations)
        else:
            merged = translations
    return merged


_TRANSLATIONS = {language: _compile(language) for language in LANGUAGES}
_current: ContextVar[str] = ContextVar("msnet_language", default=DEFAULT)


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (quality values honoured)."""
    if not accept_language:
        return DEFAULT
    ranked = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def chosen(value: str | None) -> str | None:
    """``value`` if it is one of :data:`LANGUAGES`, else ``None``."""
    return value if value in LANGUAGES else None


@contextmanager
def use(language: str) -> Iterator[None]:
    """Translate and format in ``language`` for the block (a request's handling)."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is defined; it is translated where it is shown."""
    return message


def translate(message: str) -> str:
    """``message`` in the current language (what Jinja's ``_()`` formats)."""
    return _TRANSLATIONS[_current.get()].ugettext(message)


def translate_plural(singular: str, plural: str, n: int) -> str:
    return _TRANSLATIONS[_current.get()].ungettext(singular, plural, n)


@lru_cache(maxsize=4096)
def _template_text(language: str, message: str) -> Markup:
    return Markup(_TRANSLATIONS[language].ugettext(message)) % {}  # noqa: S704  the catalogue's own text


def template_gettext(message: str, **variables: object) -> Markup:
    """Jinja's ``_()`` and ``gettext()`` in the pages' templates: what the i18n extension's newstyle
    gettext answers under autoescaping (the translation taken as markup, always formatted, the
    ``variables`` escaped), a text without variables kept by language once formatted. A page calls
    ``_()`` some fifty times, and the extension's three calls deep for each were a fifth of its
    rendering."""
    if variables:
        return Markup(translate(message)) % variables  # noqa: S704  the catalogue's; variables escaped
    return _template_text(_current.get(), message)


def gettext(message: str, **variables: object) -> str:
    """``message`` in the current language, with ``%(name)s`` placeholders filled from ``variables``."""
    translated = translate(message)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The form for ``n``, with ``%(num)d`` and the ``variables`` filled."""
    return translate_plural(singular, plural, n) % {"num": n, **variables}


def _service_patterns() -> list[tuple[re.Pattern[str], str]]:
    """The messages of :data:`SERVICES` with placeholders, as patterns matching the services' messages
    (a placeholder matches any text); the longest first, so the most specific wins."""
    with (CATALOGUES / "fr" / "LC_MESSAGES" / SERVICES).open("rb") as po:
        ids = [m.id for m in pofile.read_po(po, locale="fr") if isinstance(m.id, str) and "%(" in m.id]
    patterns = []
    for message in sorted(ids, key=len, reverse=True):
        parts = re.split(r"%\((\w+)\)s", message.replace("%%", "%"))
        regex = "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts))
        patterns.append((re.compile(regex, re.S), message))
    return patterns


_SERVICE_PATTERNS = _service_patterns()


def service_message(message: str) -> str:
    """A service's message (English, as the API gives it) in the current language: from the
    catalogue of :data:`SERVICES`, word for word or by a pattern whose placeholders take the values
    the message holds (one named ``message`` is itself a service's message); else unchanged."""
    translated = translate(message)
    if translated != message or _current.get() == DEFAULT:
        return translated
    for pattern, msgid in _SERVICE_PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            values = {k: service_message(v) if k == "message" else v for k, v in found.groupdict().items()}
            return translate(msgid) % values
    return message


def service_messages(value: object) -> object:
    """:func:`service_message` of every text in ``value`` (a message, or mistakes by field: dicts,
    lists and tuples of them; a dict's keys are kept)."""
    if isinstance(value, str):
        return service_message(value)
    if isinstance(value, dict):
        return {key: service_messages(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(service_messages(item) for item in value)
    return value


@cache
def _locale(language: str) -> Locale:
    """Babel's locale of ``language``, parsed once (parsing it again on every number of a page cost
    more than formatting the number)."""
    return Locale.parse(language)


def format_date(value: date | datetime, format: str = "medium") -> str:
    return dates.format_date(value, format=format, locale=_locale(_current.get()))


def format_datetime(value: datetime, format: str = "medium") -> str:
    return dates.format_datetime(value, format=format, locale=_locale(_current.get()))


def format_number(value: float) -> str:
    return numbers.format_decimal(value, locale=_locale(_current.get()))


def country_name(code: str) -> str:
    """A country's name by its ISO 3166 alpha-2 code, in the current language (the code if unknown)."""
    return _locale(_current.get()).territories.get(code.upper(), code)


def language_name(code: str) -> str:
    """A language's name by its ISO 639-1 code, in the current language (the code if unknown)."""
    return _locale(_current.get()).languages.get(code.lower(), code)


def jinja_globals() -> dict[str, object]:
    """What every template may call besides ``_``/``gettext``/``ngettext``."""
    return {
        "current_language": current,
        "languages": LANGUAGES,
        "format_date": format_date,
        "format_datetime": format_datetime,
        "format_number": format_number,
        "country_name": country_name,
        "language_name": language_name,
        "service_message": service_message,
    }
