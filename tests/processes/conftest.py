"""The process registry's tests reuse the request tests' callers (every scope a member office holds)."""

from __future__ import annotations

import pytest

from tests.helpers import Caller, MakeCaller
from tests.requests.conftest import SCOPES


@pytest.fixture
async def au(make_caller: MakeCaller) -> Caller:
    return await make_caller("au", SCOPES)


@pytest.fixture
async def eu(make_caller: MakeCaller) -> Caller:
    return await make_caller("eu", SCOPES)


@pytest.fixture
async def igad(make_caller: MakeCaller) -> Caller:
    return await make_caller("igad", SCOPES)
