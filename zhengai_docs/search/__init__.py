"""Chinese full-text search over the documents at the branch head.

Plain Python (no Flask): `backend` is the interface, `whoosh_backend` the embedded engine (with
`whoosh_store` for its folder and locks, `matching` for exact matching and ranking), `indexer`
keeps it in step with git; `analysis`, `schema`, `query` and `highlight` are the pieces.
"""

from zhengai_docs.search.backend import (
    IndexBusy,
    IndexMissing,
    SearchBackend,
    SearchFilters,
    SearchHit,
    SearchRequest,
    SearchResults,
    SearchUnavailable,
    Sort,
)

__all__ = [
    "IndexBusy",
    "IndexMissing",
    "SearchBackend",
    "SearchFilters",
    "SearchHit",
    "SearchRequest",
    "SearchResults",
    "SearchUnavailable",
    "Sort",
]
