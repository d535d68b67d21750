"""What every search shares: text queries, facet counts, keyset pages, statements run on the driver.

``faceted`` builds and runs a search, ``paging`` holds the keyset pages and their cursors, ``driver``
runs a statement built once on asyncpg. The names services use are these:"""

from msnet.search.faceted import (
    ARRAYS,
    Found,
    find,
    organisation_id,
    query_param,
    records,
    term,
    terms_param,
    text_query,
)
from msnet.search.paging import next_cursor, page_after

__all__ = [
    "ARRAYS",
    "Found",
    "find",
    "next_cursor",
    "organisation_id",
    "page_after",
    "query_param",
    "records",
    "term",
    "terms_param",
    "text_query",
]
