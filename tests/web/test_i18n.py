"""English and French: every string of the pages has a French translation, the language follows the
person's choice or their browser, and dates, numbers, countries and languages are in it."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from msnet.web import i18n
from tests.web.conftest import WebNode, sign_in

WEB = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> dict[str | tuple[str, ...], str]:
    """Every message of the pages' code and templates, by id, with where it is."""
    return {
        message: f"{filename}:{line}"
        for filename, line, message, _, _ in extract_from_dir(str(WEB), METHODS, keywords=KEYWORDS)
    }


def french() -> dict[str, object]:
    catalogue: dict[str, object] = {}
    for path in sorted((i18n.CATALOGUES / "fr" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            for message in read_po(po, locale="fr"):
                if message.id and not message.fuzzy:
                    key = message.id[0] if isinstance(message.id, tuple) else message.id
                    catalogue[key] = message.string
    return catalogue


def test_every_string_of_the_pages_has_a_french_translation() -> None:
    messages = extracted()
    assert len(messages) > 40  # the extraction found the pages' strings
    catalogue = french()
    untranslated = []
    for message, where in messages.items():
        key = message[0] if isinstance(message, tuple) else message
        translation = catalogue.get(key)
        forms = translation if isinstance(translation, tuple) else (translation,)
        if not all(forms):
            untranslated.append(f"{where}: {key!r}")
    assert untranslated == []


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    wrong = []
    for key, translation in french().items():
        forms = translation if isinstance(translation, tuple) else (translation,)
        for form in forms:
            if form and set(PLACEHOLDER.findall(form)) - {"num"} != set(PLACEHOLDER.findall(key)) - {"num"}:
                wrong.append((key, form))
    assert wrong == []


def test_the_french_plural_forms_and_formats() -> None:
    with i18n.use("fr"):
        assert i18n.ngettext("%(num)d field is not valid: see the message beside it.", "x", 0).startswith(
            "0 champ "
        )
        assert i18n.ngettext("%(num)d field is not valid: see the message beside it.", "x", 2).startswith(
            "2 champs "
        )
        assert i18n.format_date(date(2027, 5, 1), "long") == "1 mai 2027"
        assert i18n.format_number(1234567.5) == "1\u202f234\u202f567,5"
        assert i18n.country_name("DE") == "Allemagne"
        assert i18n.language_name("ar") == "arabe"
    with i18n.use("en"):
        assert i18n.format_date(date(2027, 5, 1), "long") == "May 1, 2027"
        assert i18n.country_name("DE") == "Germany"
        assert i18n.gettext("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("de-DE, en;q=0.5, fr;q=0.7", "fr"),
        ("de, es", "en"),
        ("en-GB, fr;q=0", "en"),
        ("fr;q=bad, en", "en"),
    ],
)
def test_the_language_of_the_browser(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


@pytest.mark.asyncio(loop_scope="session")
async def test_the_language_follows_the_browser_then_the_switch_then_the_session(
    signin_node: WebNode,
) -> None:
    slug = await signin_node.organisation()
    someone = await signin_node.person(slug, name="Léa Martin")
    async with httpx.AsyncClient(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as http:
        login = await http.get(f"{signin_node.base}/login")
        assert '<html lang="fr">' in login.text
        assert "<h1>Se connecter</h1>" in login.text
        await http.get(f"{signin_node.base}/language/en")  # the switch, before sign-in: a cookie
        assert "<h1>Sign in</h1>" in (await http.get(f"{signin_node.base}/login")).text
        await sign_in(http, signin_node, someone)  # the session starts in the language chosen
        assert "Welcome, Léa Martin" in (await http.get(f"{signin_node.base}/")).text
        await http.get(f"{signin_node.base}/language/fr")
        http.cookies.delete(i18n.COOKIE)  # the session keeps it, cookie or not
        http.headers["Accept-Language"] = "en"
        assert "Bienvenue, Léa Martin" in (await http.get(f"{signin_node.base}/")).text


#: The services whose messages the pages' forms show beside their fields.
SERVICES = [
    "overlaps/service.py",
    "training/service.py",
    "training/digest.py",
    "roster/service.py",
    "roster/transfer.py",
    "requests/service.py",
    "requests/responses.py",
    "processes/service.py",
    "outbox/service.py",
    "auth/service.py",
    "sharing.py",
    "search/faceted.py",
    "preconditions.py",
    "idempotency/service.py",
    "web/people.py",
]


def _message(node: ast.expr) -> str | None:
    """A message as text, an f-string's values as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
    return None


def test_every_message_a_service_gives_a_form_has_a_french_translation() -> None:
    """Each field's message the services give (``errors.add``, ``InvalidInput.field``) is in
    services.po, word for word or as a pattern whose placeholders stand for the f-string's values."""
    package = WEB.parent
    messages = {}
    for name in SERVICES:
        for node in ast.walk(ast.parse((package / name).read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "field")
                and len(node.args) >= 2
                and (text := _message(node.args[1]))
            ):
                messages[text] = f"{name}:{node.lineno}"
    assert len(messages) > 50  # the extraction found the services' messages
    with (i18n.CATALOGUES / "fr" / "LC_MESSAGES" / i18n.SERVICES).open("rb") as po:
        catalogue = {
            PLACEHOLDER.sub("{}", m.id): m.string for m in read_po(po, locale="fr") if isinstance(m.id, str)
        }
    assert [f"{where}: {text!r}" for text, where in messages.items() if not catalogue.get(text)] == []
    with i18n.use("fr"):
        assert i18n.service_message("the case has no member 3") == "le cas n’a pas de demande 3"
        assert (
            i18n.service_message("Expected `str` of length <= 40")
            == "au plus 40 caractères ou éléments (`str`)"
        )
        assert i18n.service_message("a message no catalogue has") == "a message no catalogue has"
    assert i18n.service_message("the case has no member 3") == "the case has no member 3"
