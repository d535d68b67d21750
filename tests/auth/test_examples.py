"""The integration examples the README shows (docs/examples/*.py) run as they are against a live
node: a client with a secret (client_secret_basic) and one with a key pair (private_key_jwt)."""

from __future__ import annotations

import asyncio
import json
import runpy
import stat
from pathlib import Path

import pytest

from msnet.settings import Settings
from tests.helpers import add_client

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def test_the_client_secret_basic_example(
    live_server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    created = asyncio.run(add_client(settings, "un", ["directory:read", "requests:read"]))
    monkeypatch.setenv("MSNET_URL", live_server)
    monkeypatch.setenv("MSNET_CLIENT_ID", created.client_id)
    monkeypatch.setenv("MSNET_CLIENT_SECRET", created.client_secret)
    runpy.run_path(str(EXAMPLES / "client_secret_basic.py"), run_name="__main__")
    assert capsys.readouterr().out.splitlines() == ["0 offices; the first: []", "0 requests in the inbox"]


def test_the_private_key_jwt_example_with_keys_made_by_the_key_example(
    live_server: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / "make_keys.py"), run_name="__main__")
    assert stat.S_IMODE((tmp_path / "private.pem").stat().st_mode) == 0o600
    jwks = json.loads((tmp_path / "public.jwks.json").read_text())
    assert all("d" not in key for key in jwks["keys"])  # the public half only
    created = asyncio.run(add_client(settings, "au", ["audit:read"], jwks=jwks))
    monkeypatch.setenv("MSNET_URL", live_server)
    monkeypatch.setenv("MSNET_CLIENT_ID", created.client_id)
    monkeypatch.setenv("MSNET_KEY_FILE", str(tmp_path / "private.pem"))
    capsys.readouterr()
    for _ in range(2):  # a second run makes a new assertion (a new jti): it is not a replay
        runpy.run_path(str(EXAMPLES / "private_key_jwt.py"), run_name="__main__")
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("the last: ['token.issue']")  # the token the example got, in its own log
    assert second.startswith("2 audit entries")
