"""The image is reproducible: requirements.lock pins every runtime dependency of pyproject, and the
ones they pull in, to one version with hashes, and deploy/Containerfile installs from it alone."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", re.M)


def locked() -> dict[str, tuple[str, int]]:
    """Each package of requirements.lock: its version and how many hashes it has."""
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(m[1]): (m[2], m[3].count("--hash=")) for m in _ENTRY.finditer(text)}


def test_every_line_of_the_lock_is_a_pinned_package_with_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(requirements) == len(locked())
    assert all(hashes >= 1 for _, hashes in locked().values())


def test_the_lock_covers_every_runtime_dependency_of_pyproject() -> None:
    lock = locked()
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(lock[name][0]), f"{name}=={lock[name][0]} breaks {line}"
        for extra in sorted(requirement.extras):  # e.g. uvicorn[standard]: what the extra adds, too
            for needed in map(Requirement, metadata.requires(requirement.name) or []):
                if needed.marker is not None and needed.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(needed.name) in lock, f"{needed.name} ({line}) is not locked"


def test_the_containerfile_installs_from_the_lock_alone() -> None:
    steps = (ROOT / "deploy" / "Containerfile").read_text()
    installs = re.findall(r"pip install ([^&\n]*)", steps)
    assert installs == ["--no-cache-dir --require-hashes -r requirements.lock", "--no-cache-dir --no-deps . "]
    assert re.search(r"^USER 10001", steps, re.M)
    assert 'VOLUME ["/var/lib/msnet", "/tmp"]' in steps
