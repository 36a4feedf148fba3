"""Every search test runs against every backend: Whoosh always, PostgreSQL when the test database
is PostgreSQL (ZHENGAI_TEST_DATABASE_URL), skipped with the reason on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.databases import DATABASES, instance_database_url, set_database_url
from zhengai_docs.db.database import Database
from zhengai_docs.search.backend import SearchBackend
from zhengai_docs.search.postgres_backend import PostgresBackend
from zhengai_docs.search.whoosh_backend import WhooshBackend

ON_SQLITE = "the PostgreSQL search backend needs a PostgreSQL test database (set ZHENGAI_TEST_DATABASE_URL)"
BACKENDS = [
    pytest.param("whoosh", id="whoosh"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(not DATABASES.postgresql, reason=ON_SQLITE)),
]


@contextmanager
def open_backend(kind: str, folder: Path, *, database_url: str | None = None, **whoosh: Any) -> Iterator[SearchBackend]:
    """A backend over `folder` (Whoosh) or over a database (PostgreSQL: a new one unless named)."""
    if kind == "whoosh":
        backend: SearchBackend = WhooshBackend(folder / "search-index", **whoosh)
        try:
            yield backend
        finally:
            backend.close()
        return
    database = Database(database_url or DATABASES.fresh(folder / "search.db"))
    try:
        yield PostgresBackend(database.engine)
    finally:
        database.dispose()


def use_backend(instance: Path, kind: str) -> Path:
    """Name the backend in the instance's config.toml (what an administrator writes)."""
    config = instance / "config.toml"
    kept = [
        line
        for line in (config.read_text(encoding="utf-8").splitlines() if config.exists() else [])
        if not line.startswith("SEARCH_BACKEND")
    ]
    config.write_text("\n".join([*kept, f'SEARCH_BACKEND = "{kind}"']) + "\n", encoding="utf-8")
    if kind == "postgresql" and not instance_database_url(instance).startswith("postgresql"):
        set_database_url(instance, DATABASES.fresh(instance / "zhengai.db"))
    return instance


def build_index(instance: Path) -> None:
    """`zhengai-docs reindex` on an instance, with the backend its settings name."""
    from zhengai_docs.search.indexer import rebuild_index
    from zhengai_docs.services import load_services

    services = load_services(instance)
    try:
        assert services.library.search is not None
        rebuild_index(services.library.search.backend, services.library.repo)
    finally:
        services.close()


def index_exists(instance: Path) -> bool:
    from zhengai_docs.services import load_services

    services = load_services(instance)
    try:
        return services.library.search is not None and services.library.search.backend.state().exists
    finally:
        services.close()
