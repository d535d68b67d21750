"""The documentation viewers' own files, served by msnet (no CDN): ``/schema/assets/...``."""

from __future__ import annotations

from pathlib import Path

from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from msnet.docs.openapi import ASSETS

#: A day's caching: the files change only with an msnet release.
assets = create_static_files_router(
    path=ASSETS,
    directories=[Path(__file__).parent / "static"],
    include_in_schema=False,
    cache_control=CacheControlHeader(public=True, max_age=86400),
    name="docs_assets",
)
