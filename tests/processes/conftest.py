"""The process registry's tests reuse the request tests' callers (every scope a member office holds)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.requests.conftest import SCOPES, Caller, scoped_caller


@pytest.fixture
async def au(client: AsyncTestClient, settings: Settings) -> Caller:
    return await scoped_caller(client, settings, "au", SCOPES)


@pytest.fixture
async def eu(client: AsyncTestClient, settings: Settings) -> Caller:
    return await scoped_caller(client, settings, "eu", SCOPES)


@pytest.fixture
async def igad(client: AsyncTestClient, settings: Settings) -> Caller:
    return await scoped_caller(client, settings, "igad", SCOPES)
