"""A Python client generated from the committed OpenAPI document (openapi-python-client, as an
integrating office would make one) drives a live node: its functions carry the document's operation
ids, and the calls of a typical integration work end to end."""

from __future__ import annotations

import base64
import importlib
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DemoTemplate

COMMITTED = Path(__file__).parents[2] / "openapi" / "openapi.json"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The package ``msnet_client`` generated from the committed document, imported from a
    temporary directory (and forgotten after the test)."""
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(COMMITTED), "--meta", "none", "--output-path",
         str(tmp_path / "msnet_client")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("msnet_client")
    for name in [m for m in sys.modules if m == "msnet_client" or m.startswith("msnet_client.")]:
        del sys.modules[name]


def _credentials(demo_template: DemoTemplate) -> tuple[str, str]:
    """The demo client (the UN's, every scope) that loading the demo printed."""
    found = dict(re.findall(r"^\s+(client_id|client_secret):\s+(\S+)$", demo_template.printed, re.MULTILINE))
    return found["client_id"], found["client_secret"]


def test_a_generated_python_client_searches_drafts_submits_and_reads_matches(
    generated: Any, demo_template: DemoTemplate, live_server: str
) -> None:
    models = importlib.import_module("msnet_client.models")

    def call(operation: str, *args: Any, **kwargs: Any) -> Any:
        """The generated function for ``operation`` (``tag.operation_id``), called."""
        return importlib.import_module(f"msnet_client.api.{operation}").sync(*args, **kwargs)

    client_id, secret = _credentials(demo_template)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    with generated.AuthenticatedClient(base_url=live_server, token=basic, prefix="Basic") as oauth:
        token = call(
            "oauth.request_token",
            client=oauth,
            body=models.RequestTokenBody(
                grant_type=models.RequestTokenBodyGrantType.CLIENT_CREDENTIALS,
                scope="directory:read roster:read requests:read requests:write",
            ),
        )
    assert isinstance(token, models.TokenResponse), token
    assert sorted(token.scope.split()) == ["directory:read", "requests:read", "requests:write", "roster:read"]

    with generated.AuthenticatedClient(base_url=live_server, token=token.access_token) as un:
        experts = call("roster.search_experts", client=un, q="ceasefire")
        assert isinstance(experts, models.ExpertPage), experts
        assert experts.items, "the demo roster has ceasefire experts"
        office = call("directory.search_offices", client=un, organisation="un").items[0]
        process = call("processes.search_processes", client=un, country="CF").items[0]
        start = date.today() + timedelta(days=30)
        draft = call(
            "requests.draft_request",
            client=un,
            body=models.RequestCreate(
                process_id=process.id,
                office_id=office.id,
                title="Ceasefire monitoring design for the follow-up talks",
                service_types=["thematic_expertise"],
                themes=["ceasefire_security"],
                period=models.Period(start=start, end=start + timedelta(days=90)),
                mandate=models.Mandate(type_=models.MandateType.PARTIES_CONSENT),
                languages=["fr"],
                route=models.RequestCreateRoute.BEST_MATCHES,
            ),
        )
        assert isinstance(draft, models.RequestDetail), draft
        assert draft.state == models.RequestDetailState.DRAFT
        submitted = call("requests.submit_request", draft.id, client=un)
        assert isinstance(submitted, models.RequestDetail), submitted
        assert submitted.state == models.RequestDetailState.SUBMITTED
        matches = call("requests.list_request_matches", draft.id, client=un)
    assert isinstance(matches, models.Matches), matches
    assert matches.request_id == draft.id
    assert matches.offices
    assert all(match.reasons for match in matches.offices)
