"""What a person writes reaches every page escaped exactly once: the pages write a template's values
with an escape of their own (``msnet.web.pages._escaped``, plain strings rather than ``Markup``
objects), which must write what Jinja's autoescape writes. Over real HTTP against a live msnet
signed in through a real OpenID Connect provider (``web_node``)."""

from __future__ import annotations

import pytest
from markupsafe import Markup, escape

from msnet.web.pages import _escaped
from tests.web.conftest import WebNode
from tests.web.pages import signed_in
from tests.web.test_directory import add_offices, capacity

HOSTILE = """<script>alert("x")</script> O'Neil & Co"""
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; O&#39;Neil &amp; Co"


class Html:
    def __html__(self) -> str:
        return "<b>kept</b>"


@pytest.mark.parametrize("value", [HOSTILE, Markup("<i>safe</i>"), Html(), 3, None, "plain"])
def test_a_value_is_written_as_autoescape_writes_it(value: object) -> None:
    assert _escaped(value) == str(escape(value))


@pytest.mark.asyncio(loop_scope="session")
async def test_a_hostile_name_and_search_are_escaped_once_on_the_directory(web_node: WebNode) -> None:
    slug = await web_node.organisation()
    staff = await web_node.person(slug)
    [(office_id, _)] = await add_offices(
        web_node, slug, [({"name": HOSTILE, "mandate": "Sahel " + HOSTILE}, [capacity("coaching")])]
    )
    async with signed_in(web_node, staff) as http:
        for page in (
            await http.get("/directory", params={"organisation": slug, "q": "Sahel"}),
            await http.get(f"/directory/offices/{office_id}"),
            await http.get("/directory", params={"q": HOSTILE}),  # the words, back in the search box
        ):
            assert page.status_code == 200
            assert HOSTILE not in page.text
            assert ESCAPED in page.text
            assert "&amp;lt;" not in page.text  # not twice
