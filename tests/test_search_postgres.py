"""What only the PostgreSQL search backend needs: its setting's checks, a UTF-8 character type,
and custom plans for prepared statements (engines.md: the generic-plan trap)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.databases import ADMIN_URL, DATABASES
from tests.search_backends import ON_SQLITE, open_backend
from zhengai_docs.errors import ConfigurationError
from zhengai_docs.search.backend import IndexedDocument, IndexMissing, SearchRequest
from zhengai_docs.search.postgres_backend import PostgresBackend
from zhengai_docs.services import load_services

needs_postgresql = pytest.mark.skipif(not DATABASES.postgresql, reason=ON_SQLITE)


def _documents(count: int) -> list[IndexedDocument]:
    return [
        IndexedDocument(
            code=f"A{n // 99 + 1}{n % 99 + 1:02d}Z",
            title=f"制度{n}",
            doc_type="Z",
            status="现行",
            departments=("教务处",),
            points=(),
            issued=dt.date(2020, 1, 1),
            doc_number=None,
            body_text="双师型教师认定" if n % 2 else "专任教师",
        )
        for n in range(count)
    ]


def test_postgresql_search_over_sqlite_is_refused_in_chinese(blank_instance: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"需要 PostgreSQL 数据库.*sqlite"):
        load_services(blank_instance, {"SEARCH_BACKEND": "postgresql", "DATABASE_URL": "sqlite:///zhengai.db"})
    with pytest.raises(ConfigurationError, match="SEARCH_BACKEND 的取值 'elastic' 无效"):
        load_services(blank_instance, {"SEARCH_BACKEND": "elastic"})


@needs_postgresql
def test_a_database_without_a_utf8_character_type_is_refused(tmp_path: Path) -> None:
    """Under LC_CTYPE C pg_trgm drops every Chinese character: the index would find nothing."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"zt_ctype_{tmp_path.name[-8:].replace('-', '_').lower()}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"))
    try:
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        with open_backend("postgresql", tmp_path, database_url=url) as backend:
            with (
                pytest.raises(ConfigurationError, match=r"LC_CTYPE.*'C'.*UTF-8"),
                backend.rebuild(_documents(3), commit=None, total=3, timeout=5),
            ):
                pass
            with pytest.raises(IndexMissing):  # nothing was left behind
                backend.search(SearchRequest(text="双师"))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@needs_postgresql
def test_prepared_search_statements_keep_custom_plans(tmp_path: Path) -> None:
    """psycopg prepares a statement after five executions; PostgreSQL's generic plan for it then
    scanned the whole trigram index for two-character terms (130 ms instead of 2.5)."""
    with open_backend("postgresql", tmp_path) as backend:
        assert isinstance(backend, PostgresBackend)
        with backend.rebuild(_documents(300), commit=None, total=300, timeout=5):
            pass
        for _ in range(12):
            assert backend.search(SearchRequest(text="双师", per_page=5)).total == 150
        with backend.engine.connect() as connection:  # the pooled connection the searches used
            plans = connection.execute(
                text(
                    "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements "
                    "WHERE cardinality(parameter_types) > 0"  # statements without parameters have only one plan
                )
            ).one()
        assert plans[1] > 0, "the search statement was never prepared: the trap was not exercised"
        assert plans[0] == 0, "a prepared search statement ran with a generic plan"
