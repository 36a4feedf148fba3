"""Which search backend an instance uses: the SEARCH_BACKEND setting (README: Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zhengai_docs.config import resolve_path
from zhengai_docs.db.database import Database
from zhengai_docs.errors import ConfigurationError
from zhengai_docs.search.backend import SearchBackend

BACKENDS = ("whoosh", "postgresql")


def search_backend(settings: Mapping[str, Any], *, instance_path: Path, db: Database) -> SearchBackend:
    """The configured backend; ConfigurationError (in Chinese) for an unknown name, or for
    postgresql over a database that is not PostgreSQL."""
    chosen = str(settings.get("SEARCH_BACKEND") or "whoosh").strip().lower()
    if chosen == "whoosh":
        from zhengai_docs.search.whoosh_backend import WhooshBackend

        return WhooshBackend(resolve_path(instance_path, settings["SEARCH_INDEX"]))
    if chosen == "postgresql":
        from zhengai_docs.search.postgres_backend import PostgresBackend

        return PostgresBackend(db.engine)
    raise ConfigurationError(f"SEARCH_BACKEND 的取值 {chosen!r} 无效：应为 whoosh 或 postgresql")
