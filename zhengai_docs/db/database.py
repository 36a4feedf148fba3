"""The SQL database: engine, sessions and Alembic migrations (plain SQLAlchemy, no Flask).

Alembic is imported by the functions that migrate, not with this module: it costs a process
~11 MB, and a served worker never migrates (`serve` upgrades before it starts them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from zhengai_docs.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    def reading(self) -> Connection:
        """A connection for column queries (`with db.reading() as connection:`): Core statements
        skip the ORM's work per statement, 0.12 ms a query against 0.6 ms through a session on
        the development machine, and a page view runs about a dozen of them."""
        return self.engine.connect()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self, *, revision: str = "head") -> None:
        """Bring the schema to the newest migration (creates every table on a new database), or to
        `revision` (`restore` loads a backup at the schema it was taken at, then upgrades)."""
        from alembic import command

        with self.engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def is_current(self) -> bool:
        """Has the schema reached the newest migration?"""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == schema_head()

    def dispose(self) -> None:
        self.engine.dispose()


def schema_head() -> str:
    """The newest migration this version of the program knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise ConfigurationError("没有数据库迁移脚本")
    return head


def known_revision(revision: str) -> bool:
    """Is `revision` one of this program's migrations (so it can upgrade from it)?"""
    from alembic.script import ScriptDirectory

    return revision in {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _create_engine(url: str) -> Engine:
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several processes share one file: wait for the write lock instead of failing at once.
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    try:
        engine = create_engine(url, **options)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(_missing_driver(url, exc.name or "")) from exc
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _missing_driver(url: str, module: str) -> str:
    if url.startswith("postgresql"):
        return (
            f"DATABASE_URL 使用 PostgreSQL，但未安装其驱动（缺少 {module}）。"
            "请安装：pip install 'zhengai-docs[postgresql]'，并使用 postgresql+psycopg:// 开头的地址。"
        )
    return f"DATABASE_URL 需要的数据库驱动未安装（缺少 {module}）。"


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
