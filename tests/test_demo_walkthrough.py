"""`msnet demo` hands out every organisation's credentials in a file only its owner reads, and the
walk-through it prints (a request and an overlap across two organisations) works as printed, against
a live node (issue #18)."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

from msnet import demo
from msnet.demo import specs
from msnet.settings import Settings
from tests.conftest import DemoTemplate


def test_the_printed_walkthrough_works_against_a_live_node(
    demo_template: DemoTemplate, settings: Settings, live_server: str, tmp_path: Path
) -> None:
    credentials = tmp_path / "data" / "demo-credentials.json"
    credentials.parent.mkdir()
    credentials.write_text("stale")
    credentials.chmod(0o644)  # a file left by someone else's umask is made private again
    printed = asyncio.run(demo.load(replace(settings, public_url=live_server), credentials_file=credentials))

    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    handed_out = json.loads(credentials.read_text())
    assert set(handed_out) == {o.slug for o in specs.organisations()}
    assert all(c["client_secret"].startswith("mss_") for c in handed_out.values())

    marker = f"Every organisation's demo client is in {credentials} (mode 600)."
    assert marker in printed
    lines = printed.split(marker, 1)[1].splitlines()[1:]
    script = "\n".join(line.removeprefix("  ") for line in lines if line.startswith("  "))
    assert script.count("curl") >= 7
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    documents = _json_documents(run.stdout)
    inbox, overlaps, message, messages, proposal, hidden = documents
    assert {item["organisation"] for item in inbox["items"]} >= {"au", "igad"}
    assert overlaps["items"]
    assert message["organisation"] == "au"
    assert [m["body"] for m in messages["items"]][-1] == message["body"]
    assert proposal["proposal"]["kind"] == "complementary"
    assert proposal["proposal"]["proposed_by"] == "igad"
    assert hidden["status"] == 404


def _json_documents(text: str) -> list[dict]:
    """The JSON documents ``python3 -m json.tool`` printed one after another."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        while text[at].isspace():
            at += 1
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents
